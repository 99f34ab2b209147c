"""``v2g secc`` as an OCPP charging station: it tells the CSMS what its ISO 15118
sessions learn and writes the charging profiles it receives into the EVSE mailboxes.

Session events are turned into OCPP requests at once and queued on disk (one JSON
line each) before anything is sent, so none is lost while the CSMS is away; after a
reconnect they go out in order, those queued while offline with ``offline: true``
(OCPP 2.0.1 E12). The mailbox is written, never awaited: the charge loop keeps running
the last profile until it expires, then its fallback, which never discharges.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import os
import ssl
import tomllib
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from v2g.clock import Clock
from v2g.ocpp import schemas
from v2g.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    FrameError,
    Send,
    encode,
    parse_frame,
)
from v2g.ocpp.remote import (
    ACTIONS,
    AwaitStart,
    ClearProfile,
    Effect,
    EvseView,
    Reboot,
    RebootWhenIdle,
    RemoteStart,
    Reservation,
    Reserve,
    SendMessage,
    StationView,
    StopSession,
    Unreserve,
    decide,
)
from v2g.ocpp.security import TlsConfigError, station_context
from v2g.ocpp.station_config import OcppStationConfig, split_ocpp
from v2g.ocpp.station_local_list import LOCAL_LIST_ACTIONS, StoredLocalList
from v2g.ocpp.wire import WireError, needs_request, setpoint_of, transaction_event, wire_time
from v2g.secc.config import ConfigError, SeccConfig, parse_secc_config
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import (
    ChargeNeeds,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TransferLimits,
)
from v2g.tasks import stop_task

if TYPE_CHECKING:
    # Type only: that module imports iso15118, which this link does not need.
    from v2g.ocpp.station_authorize import AskedFor

logger = logging.getLogger(__name__)

RECONNECT_S = (1.0, 2.0, 5.0, 10.0, 30.0)
#: ISO 15118-2: the EV waits 5 s for CertificateInstallationRes; the CSMS gets most.
INSTALLATION_TIMEOUT_S = 4.0


class OutboundQueue:
    """Requests for the CSMS, oldest first, kept in a file until answered."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._items: list[tuple[str, dict[str, Any]]] = []
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                action, payload = json.loads(line)
                self._items.append((action, payload))
        self.ready = asyncio.Event()
        if self._items:
            self.ready.set()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, action: str, payload: dict[str, Any]) -> None:
        self._items.append((action, payload))
        with self._path.open("a", encoding="utf-8") as sink:
            sink.write(json.dumps([action, payload], separators=(",", ":")) + "\n")
        self.ready.set()

    def items(self) -> list[tuple[str, dict[str, Any]]]:
        return list(self._items)

    def head(self) -> tuple[str, dict[str, Any]] | None:
        return self._items[0] if self._items else None

    def pop(self) -> None:
        del self._items[0]
        lines = [json.dumps(list(item), separators=(",", ":")) + "\n" for item in self._items]
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text("".join(lines), encoding="utf-8")
        temporary.replace(self._path)
        if not self._items:
            self.ready.clear()


class ChargingStationLink:
    """The station side of the OCPP SessionLink. Call it with each session event (it
    never waits); ``run`` keeps the connection to the CSMS."""

    def __init__(
        self,
        config: OcppStationConfig,
        password: str,
        mailboxes: Mapping[str, SetpointMailbox],
        clock: Clock,
    ) -> None:
        self._config = config
        self._password = password
        # Profiles 2 and 3: the CSMS certificate is checked against ca_file, and in 3
        # this station presents its own (raises TlsConfigError when files are bad).
        self._ssl: ssl.SSLContext | bool = (
            station_context(config.security_profile, config.tls, os.environ) or False
        )
        self._mailboxes = mailboxes
        self._clock = clock
        self._by_number = {n: evse_id for evse_id, n in config.evses.items()}
        self.queue = OutboundQueue(config.queue_dir / f"{config.station_id}.jsonl")
        #: The local authorization list (D01), what decides while the CSMS is away.
        self.local_list = StoredLocalList(
            config.queue_dir / f"{config.station_id}.local-list.json",
            clock,
            config.accept_unknown_offline,
        )
        self._seq_nos: dict[str, itertools.count[int]] = {}
        self._metered_at: dict[str, datetime] = {}
        self._needs: dict[str, tuple[str, ChargeNeeds | None, TransferLimits | None]] = {}
        # The session each EVSE runs now: a received profile is bound to it, so it never
        # reaches the next vehicle on that EVSE (see the mailbox).
        self._session_of: dict[str, str] = {}
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        # OCPP-J 2.0.1 §4.1.1: one CALL at a time (the queue and triggered messages).
        self._calling = asyncio.Lock()
        # Remote operations (v2g.ocpp.remote): the profile id each EVSE runs,
        # reservations, remote starts waiting for the EV, a reset waiting for idle.
        self._profile_ids: dict[str, int] = {}
        self._reservations: dict[int, Reservation] = {}
        self._remote_starts: dict[int, RemoteStart] = {}
        self._reboot_when_idle = False
        self._boot_reason = "PowerUp"
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def online(self) -> bool:
        return self._socket is not None and not self._socket.closed

    # -- session events out --------------------------------------------------------

    def __call__(self, event: SessionEvent) -> None:
        number = self._config.evses.get(event.evse_id)
        if number is None:
            return
        match event:
            case SessionStarted():
                self._session_of[event.evse_id] = event.session_id
                self._needs[event.session_id] = (event.protocol, None, None)
                self._transaction(event, number)
                self._check_reservation(event, number)
            case PowerMeasured():
                last = self._metered_at.get(event.session_id)
                interval = timedelta(seconds=self._config.meter_interval_s)
                if last is None or event.at - last >= interval:
                    self._metered_at[event.session_id] = event.at
                    self._transaction(event, number)
            case NeedsReported() | LimitsReported():
                self._report_needs(event, number)
            case SessionEnded():
                self._transaction(event, number)
                self._needs.pop(event.session_id, None)
                self._metered_at.pop(event.session_id, None)
                if self._session_of.get(event.evse_id) == event.session_id:
                    del self._session_of[event.evse_id]
                self._profile_ids.pop(event.evse_id, None)
                if self._reboot_when_idle and not self._session_of:
                    self._reboot_when_idle = False
                    self._soon(self._reboot())

    def _transaction(
        self, event: SessionStarted | PowerMeasured | SessionEnded, number: int
    ) -> None:
        counter = self._seq_nos.setdefault(event.session_id, itertools.count())
        payload = transaction_event(event, next(counter), number)
        if isinstance(event, SessionStarted):
            self._started_remotely(payload, number)
        if isinstance(event, SessionEnded):
            del self._seq_nos[event.session_id]
        if not self.online:
            payload["offline"] = True
        self.queue.push("TransactionEvent", payload)

    def _report_needs(self, event: NeedsReported | LimitsReported, number: int) -> None:
        protocol, needs, limits = self._needs.get(event.session_id, ("", None, None))
        if isinstance(event, NeedsReported):
            needs = event.needs
        else:
            limits = event.ev_limits
        self._needs[event.session_id] = (protocol, needs, limits)
        if needs is not None:
            payload = needs_request(self._config.version, number, protocol, needs, limits)
            self.queue.push("NotifyEVChargingNeeds", payload)

    async def authorize(
        self, payload: dict[str, Any], asked_for: AskedFor | None = None
    ) -> dict[str, Any]:
        """The CSMS's AuthorizeResponse payload; never queued (an answer that comes
        after the EV gave up is worth nothing): ConnectionError while offline. (OCPP's
        Authorize names no EVSE: ``asked_for`` is not sent.)"""
        schemas.check(self._config.version, "Authorize", "Request", payload)
        return await self._call("Authorize", payload)

    async def ev_certificate(self, schema_version: str, exi_request_b64: str) -> str:
        """The CSMS's CertificateInstallationRes (EXI, base64) for the EV's request
        (Get15118EVCertificate, action Install). Raises RuntimeError with the CSMS's
        reason when it has none, ConnectionError while offline, TimeoutError after
        ``INSTALLATION_TIMEOUT_S`` (the EV waits 5 s for its answer)."""
        payload = {
            "iso15118SchemaVersion": schema_version,
            "action": "Install",
            "exiRequest": exi_request_b64,
        }
        schemas.check(self._config.version, "Get15118EVCertificate", "Request", payload)
        answer = await asyncio.wait_for(
            self._call("Get15118EVCertificate", payload), INSTALLATION_TIMEOUT_S
        )
        if answer.get("status") != "Accepted" or not answer.get("exiResponse"):
            info = answer.get("statusInfo", {})
            raise RuntimeError(
                f"CSMS: {answer.get('status')} {info.get('reasonCode', '')} "
                f"{info.get('additionalInfo', '')}".strip()
            )
        return str(answer["exiResponse"])

    # -- the connection ------------------------------------------------------------

    async def run(self) -> None:
        """Connects, boots and sends the queue in order; reconnects with backoff."""
        async with aiohttp.ClientSession() as http:
            failures = 0
            while True:
                try:
                    await self._connected(http)
                    failures = 0
                except aiohttp.ClientConnectorCertificateError as error:
                    # A00.FR.309/310: not connected; the event is reported once the
                    # CSMS that can be verified is reached again.
                    logger.error("CSMS %s: certificate refused: %s", self._config.url, error)
                    if failures == 0:
                        self._security_event("InvalidCsmsCertificate", str(error))
                    failures += 1
                except (aiohttp.ClientError, OSError, TimeoutError, ConnectionError) as error:
                    logger.warning("CSMS %s: %s", self._config.url, error)
                    failures += 1
                await asyncio.sleep(RECONNECT_S[min(failures, len(RECONNECT_S) - 1)])

    def _security_event(self, kind: str, detail: str) -> None:
        """A SecurityEventNotification, queued like every other request."""
        payload = {
            "type": kind,
            "timestamp": wire_time(self._clock.now()),
            "techInfo": detail[:255],
        }
        self.queue.push("SecurityEventNotification", payload)

    async def _connected(self, http: aiohttp.ClientSession) -> None:
        # Profile 3 authenticates by the client certificate alone (A00.FR.401).
        headers = (
            {}
            if self._config.security_profile == 3
            else {"Authorization": _basic_auth(self._config.station_id, self._password)}
        )
        async with http.ws_connect(
            self._config.url,
            protocols=(str(self._config.version),),
            headers=headers,
            heartbeat=60,
            ssl=self._ssl,
        ) as socket:
            if socket.protocol != self._config.version:
                raise ConnectionError(f"CSMS does not speak {self._config.version}")
            self._socket = socket
            reader = asyncio.create_task(self._read(socket))
            try:
                await self._boot()
                await self._drain(reader)
            finally:
                self._socket = None
                await stop_task(reader)
                for future in self._pending.values():
                    future.cancel()
                self._pending.clear()

    async def _boot(self) -> None:
        boot = {
            "reason": self._boot_reason,
            "chargingStation": {"model": "v2g secc", "vendorName": "v2g"},
        }
        answer = await self._call("BootNotification", boot)
        self._boot_reason = "PowerUp"
        logger.info("CSMS %s: boot %s", self._config.url, answer.get("status"))
        for evse_id, number in self._config.evses.items():
            await self._call("StatusNotification", self._connector_status(evse_id, number))
            logger.debug("evse %s announced as %d", evse_id, number)

    def _connector_status(self, evse_id: str, number: int) -> dict[str, Any]:
        if evse_id in self._session_of:
            status = "Occupied"
        elif self._view().reservation_at(number, self._clock.now()) is not None:
            status = "Reserved"
        else:
            status = "Available"
        return {
            "timestamp": wire_time(self._clock.now()),
            "connectorStatus": status,
            "evseId": number,
            "connectorId": 1,
        }

    async def _drain(self, reader: asyncio.Task[None]) -> None:
        while not reader.done():
            head = self.queue.head()
            if head is None:
                ready = asyncio.create_task(self.queue.ready.wait())
                await asyncio.wait({ready, reader}, return_when=asyncio.FIRST_COMPLETED)
                ready.cancel()
                continue
            action, payload = head
            try:
                await self._call(action, payload)
            except RuntimeError as error:
                # The CSMS refused it: sending it again would be refused again.
                logger.error("CSMS refused %s: %s", action, error)
            self.queue.pop()

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        socket = self._socket
        if socket is None:
            raise ConnectionError("not connected")
        message_id = f"{self._config.station_id}-{next(self._ids)}"
        answer = asyncio.get_running_loop().create_future()
        self._pending[message_id] = answer
        try:
            async with self._calling:
                await socket.send_str(encode(Call(message_id, action, payload)))
                return await asyncio.wait_for(answer, 30)
        except asyncio.CancelledError as error:
            if answer.cancelled() and not _being_cancelled():
                # The reader went away with the connection (not our own cancellation).
                raise ConnectionError("connection lost") from error
            raise
        finally:
            self._pending.pop(message_id, None)

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for message in socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                frame = parse_frame(message.data, self._config.version)
            except FrameError as error:
                if error.answer:
                    await socket.send_str(encode(error.call_error()))
                continue
            match frame:
                case CallResult():
                    future = self._pending.get(frame.message_id)
                    if future is not None and not future.done():
                        future.set_result(frame.payload)
                case CallError():
                    future = self._pending.get(frame.message_id)
                    if future is not None and not future.done():
                        future.set_exception(RuntimeError(f"{frame.code}: {frame.description}"))
                case Call() if frame.action == "SendLocalList":
                    # Thousands of tokens: a schema check and an fsync of about half a
                    # second, off the loop that answers the vehicles. The reader waits
                    # for it, so lists are still taken one at a time, in order.
                    reply, _ = await asyncio.to_thread(self._answer, frame)  # no effects
                    await socket.send_str(encode(reply))
                case Call():
                    reply, effects = self._answer(frame)
                    await socket.send_str(encode(reply))
                    for effect in effects:
                        self._carry_out(effect)
                case Send():
                    pass

    # -- requests from the CSMS ----------------------------------------------------

    def _answer(self, call: Call) -> tuple[CallResult | CallError, tuple[Effect, ...]]:
        """The reply to a CSMS request, and what to do once it is sent."""
        try:
            schemas.check(self._config.version, call.action, "Request", call.payload)
        except schemas.PayloadError as error:
            return CallError(call.message_id, error.code, error.description), ()
        if call.action in ACTIONS:
            try:
                decision = decide(call.action, call.payload, self._view(), self._clock.now())
            except WireError as error:
                return CallResult(call.message_id, _rejected(str(error))), ()
            logger.info("CSMS %s: %s", call.action, decision.answer.get("status"))
            return CallResult(call.message_id, decision.answer), decision.effects
        if call.action in LOCAL_LIST_ACTIONS:
            return CallResult(
                call.message_id, self.local_list.answer(call.action, call.payload)
            ), ()
        if call.action != "SetChargingProfile":
            return CallError(
                call.message_id, ErrorCode.NOT_SUPPORTED, f"{call.action} is not supported"
            ), ()
        return self._set_profile(call), ()

    def _set_profile(self, call: Call) -> CallResult:
        evse_id = self._by_number.get(call.payload["evseId"])
        if evse_id is None or evse_id not in self._mailboxes:
            return CallResult(call.message_id, _rejected(f"no evse {call.payload['evseId']}"))
        try:
            setpoint = setpoint_of(call.payload, self._config.version, self._clock.now())
        except WireError as error:
            return CallResult(call.message_id, _rejected(str(error)))
        session_id = self._session_of.get(evse_id)
        if session_id is None:
            return CallResult(call.message_id, _rejected(f"no session on evse {evse_id}"))
        self._mailboxes[evse_id].post(setpoint.for_session(session_id))
        self._profile_ids[evse_id] = call.payload["chargingProfile"]["id"]
        logger.info("evse %s: %s from the CSMS", evse_id, setpoint)
        return CallResult(call.message_id, {"status": "Accepted"})

    # -- remote operations (v2g.ocpp.remote decides, this carries out) ---------------

    def _view(self) -> StationView:
        now = self._clock.now()
        evses = {}
        for evse_id, number in self._config.evses.items():
            session_id = self._session_of.get(evse_id)
            mailbox = self._mailboxes.get(evse_id)
            evses[number] = EvseView(
                number,
                evse_id,
                session_id,
                None if mailbox is None else mailbox.read_for(session_id, now),
                self._profile_ids.get(evse_id),
            )
        live = {k: r for k, r in self._reservations.items() if r.expires_at > now}
        return StationView(self._config.version, evses, live)

    def _carry_out(self, effect: Effect) -> None:
        match effect:
            case ClearProfile():
                if effect.evse_id in self._mailboxes:
                    self._mailboxes[effect.evse_id].clear()
                self._profile_ids.pop(effect.evse_id, None)
            case StopSession():
                if effect.evse_id in self._mailboxes:
                    self._mailboxes[effect.evse_id].request_stop(effect.session_id)
                logger.info("evse %s: session %s asked to end", effect.evse_id, effect.session_id)
            case SendMessage():
                self._soon(self._triggered(effect))
            case Reboot():
                self._soon(self._reboot())
            case RebootWhenIdle():
                self._reboot_when_idle = True
            case Reserve():
                self._reservations[effect.reservation.reservation_id] = effect.reservation
                self._soon(
                    self._triggered(SendMessage("StatusNotification", effect.reservation.number))
                )
            case Unreserve():
                found = self._reservations.pop(effect.reservation_id, None)
                if found is not None:
                    self._soon(self._triggered(SendMessage("StatusNotification", found.number)))
            case AwaitStart():
                self._remote_starts[effect.number] = effect.start

    def _soon(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _triggered(self, send: SendMessage) -> None:
        """Sends what the CSMS triggered (or a status change of ours), after the answer."""
        numbers = {
            e: n for e, n in self._config.evses.items() if send.number is None or n == send.number
        }
        try:
            if send.action == "BootNotification":
                self._boot_reason = "Triggered"
                await self._boot()
            elif send.action == "Heartbeat":
                await self._call("Heartbeat", {})
            elif send.action == "StatusNotification":
                for evse_id, number in numbers.items():
                    await self._call("StatusNotification", self._connector_status(evse_id, number))
            elif send.action == "TransactionEvent":
                for evse_id, number in numbers.items():
                    self._trigger_transaction_event(evse_id, number)
        except (RuntimeError, ConnectionError, TimeoutError) as error:
            logger.warning("triggered %s not sent: %s", send.action, error)

    def _trigger_transaction_event(self, evse_id: str, number: int) -> None:
        session_id = self._session_of.get(evse_id)
        if session_id is None or session_id not in self._seq_nos:
            return
        payload = {
            "eventType": "Updated",
            "timestamp": wire_time(self._clock.now()),
            "triggerReason": "Trigger",
            "seqNo": next(self._seq_nos[session_id]),
            "transactionInfo": {"transactionId": session_id[:36]},
            "evse": {"id": number, "connectorId": 1},
        }
        self.queue.push("TransactionEvent", payload)

    async def _reboot(self) -> None:
        """A reset: the connection closes and ``run`` boots again (reason RemoteReset)
        once the queue has gone out."""
        while len(self.queue) and self.online:
            await asyncio.sleep(0.05)
        self._boot_reason = "RemoteReset"
        socket = self._socket
        if socket is not None:
            logger.info("reset by the CSMS: reconnecting")
            await socket.close()

    def _started_remotely(self, payload: dict[str, Any], number: int) -> None:
        """A session at an EVSE the CSMS asked to start: the transaction is that start."""
        start = self._remote_starts.pop(number, None)
        if start is None:
            return
        payload["triggerReason"] = "RemoteStart"
        payload["transactionInfo"]["remoteStartId"] = start.remote_start_id
        payload["idToken"] = start.id_token

    def _check_reservation(self, event: SessionStarted, number: int) -> None:
        """A session at a reserved EVSE: the reservation's own token uses it up; any
        other token is refused (the session is asked to end at once)."""
        held = self._view().reservation_at(number, event.at)
        if held is None:
            return
        payload_token = self._last_token(event)
        if payload_token == held.id_token:
            del self._reservations[held.reservation_id]
            return
        logger.warning(
            "evse %s is reserved (%d) for another token: session %s refused",
            event.evse_id,
            held.reservation_id,
            event.session_id,
        )
        if event.evse_id in self._mailboxes:
            self._mailboxes[event.evse_id].request_stop(event.session_id)

    def _last_token(self, event: SessionStarted) -> str | None:
        """The idToken the queued Started event of ``event`` carries."""
        for action, payload in reversed(self.queue.items()):
            info = payload.get("transactionInfo", {})
            if action == "TransactionEvent" and info.get("transactionId") == event.session_id[:36]:
                token = payload.get("idToken", {}).get("idToken")
                return None if token is None else str(token)
        return event.ev_id


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _basic_auth(station_id: str, password: str) -> str:
    # OCPP security profile 1: the username is the station identity.
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _rejected(reason: str) -> dict[str, Any]:
    return {
        "status": "Rejected",
        "statusInfo": {"reasonCode": "InvalidValue", "additionalInfo": reason[:500]},
    }


def load_charger(path: Path) -> tuple[SeccConfig, OcppStationConfig | None, str]:
    """The charger file ``path``: the SECC's configuration, its OCPP part (None without
    ``[ocpp]``) and the station password read from ``password_file`` ("" without).
    Raises ConfigError with every problem found."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError([f"cannot read {path}: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path} is not valid TOML: {error}"]) from error
    rest, ocpp, problems = split_ocpp(data, path.parent)
    secc: SeccConfig | None = None
    try:
        secc = parse_secc_config(rest)
    except ConfigError as error:
        problems = error.problems + problems
    password = ""
    if ocpp is not None:
        try:
            station_context(ocpp.security_profile, ocpp.tls, os.environ)
        except TlsConfigError as error:
            problems.append(f"ocpp: {error}")
    if ocpp is not None and ocpp.password_file is not None:
        try:
            password = ocpp.password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            problems.append(
                f"ocpp.password_file: cannot read {ocpp.password_file}: {error.strerror}"
            )
        if password and not 16 <= len(password) <= 40:
            problems.append("ocpp.password_file: an OCPP password has 16..40 characters")
    if problems or secc is None:
        raise ConfigError(problems)
    return secc, ocpp, password
