"""``v2g serve`` as a CSMS: charging stations connect over OCPP-J (WebSocket,
subprotocol ``ocpp2.1`` or ``ocpp2.0.1``) at ``/ocpp/<station id>``.

Each connected station is a SessionLink: its TransactionEvents and
NotifyEVChargingNeeds become session events (``on_event``: the aggregator and the
store), and the aggregator's setpoints leave as SetChargingProfile when
``ProfilePolicy`` says so. Every incoming payload is checked against the official
schema before anything is read from it; a repeated message id gets the answer it got
the first time and changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import inspect
import itertools
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from v2g.clock import Clock
from v2g.config import ConfigError
from v2g.ocpp import schemas
from v2g.ocpp.authorize import AllowList, Authorization, Authorizer, ContractTrust
from v2g.ocpp.certificates import ContractProvider, NoContractProvider, ev_certificate_answer
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    FrameError,
    OcppVersion,
    Send,
    encode,
    parse_frame,
)
from v2g.ocpp.records import (
    OcppRecord,
    RecordSink,
    StationConnected,
    StationDisconnected,
    StationHistory,
    booted,
    status_changed,
    transaction_recorded,
)
from v2g.ocpp.security import TlsConfigError, certificate_identity_problem, csms_context
from v2g.ocpp.station import StationLedger
from v2g.ocpp.wire import WireError, charging_profile, wire_time
from v2g.session import SessionEvent, Setpoint

logger = logging.getLogger(__name__)

#: Answers remembered per station, so a repeated message id is answered alike (a few
#: hundred bytes each: ~40 MB for 1,000 stations at this depth).
ANSWER_MEMORY = 128
#: Largest frame taken from a station (a TransactionEvent with many meter values is
#: a few kB); larger ones close the connection (WebSocket 1009).
MAX_FRAME_BYTES = 65536
HEARTBEAT_INTERVAL_S = 300

EventSink = Callable[[SessionEvent], object]


class StationCredentials(Protocol):
    """Checks a station's basic-auth password (the store's stations table)."""

    async def verify(self, station_id: str, password: str) -> bool: ...


@dataclass
class _Connection:
    """One open WebSocket of one station."""

    station_id: str
    version: OcppVersion
    socket: web.WebSocketResponse
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    # OCPP-J 2.0.1 §4.1.1: one CALL at a time in each direction.
    calling: asyncio.Lock = field(default_factory=asyncio.Lock)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    async def send(self, text: str) -> None:
        await self.socket.send_str(text)

    async def call(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """The CALLRESULT payload for ``action`` (raises RuntimeError on a CALLERROR,
        TimeoutError when none comes)."""
        async with self.calling:
            message_id = f"csms-{next(self.ids)}"
            answer = asyncio.get_running_loop().create_future()
            self.pending[message_id] = answer
            try:
                await self.send(encode(Call(message_id, action, payload)))
                return await asyncio.wait_for(answer, timeout_s)
            finally:
                self.pending.pop(message_id, None)


class StationOffline(LookupError):
    """A call for a station that is not connected now."""


class CallFailed(RuntimeError):
    """The station answered a call with a CALLERROR, or with a payload its schema
    refuses."""


class Csms:
    """The CSMS side of every OCPP station of one site."""

    def __init__(
        self,
        config: OcppSiteConfig,
        credentials: StationCredentials,
        on_event: EventSink,
        clock: Clock,
        *,
        authorizer: Authorizer | None = None,
        certificates: ContractProvider | None = None,
        records: RecordSink | None = None,
        history: StationHistory | None = None,
    ) -> None:
        """``authorizer``: who may charge (default: the site's ``id_tokens``);
        ``certificates``: who answers Get15118EVCertificate (default: nobody,
        answered Failed); ``records``: where station records go (the store), in order,
        never awaited; ``history``: what was recorded before, read when a station first
        connects. Raises ConfigError when the contract roots cannot be read."""
        self._config = config
        try:
            trust = ContractTrust.load(config.contract_roots, config.contract_crls)
        except ValueError as error:
            raise ConfigError([str(error)]) from error
        self._authorization = Authorization(authorizer or AllowList(config.id_tokens or ()), trust)
        self._certificates = certificates or _contract_provider(config, clock)
        self._records = records
        self._history = history
        self._restored: set[str] = set()
        self._credentials = credentials
        self._on_event = on_event
        self._clock = clock
        self._ledgers = {s: StationLedger(s, evses) for s, evses in config.stations.items()}
        self._connections: dict[str, _Connection] = {}
        self._answers: dict[str, OrderedDict[str, tuple[str, str]]] = {}
        # The profile each transaction runs, by session id: a new transaction (or a
        # new connection) starts without one, so its first setpoint always goes out.
        self._running: dict[str, Setpoint] = {}
        self._profile_ids = itertools.count(1)
        # Remote start and reservation ids: counted from a number that differs after
        # each start, so a restarted CSMS does not reuse the ids of its last run.
        self._operation_ids = itertools.count(int(clock.now().timestamp()) % 1_000_000_000)
        self._sending: set[asyncio.Task[None]] = set()
        self._station_of = {
            e.evse_id: s for s, evses in config.stations.items() for e in evses.values()
        }
        self._boot_listeners: list[Callable[[str], object]] = []

    @property
    def config(self) -> OcppSiteConfig:
        return self._config

    # -- the SessionLink side ------------------------------------------------------

    def holds(self, evse_id: str) -> bool:
        """True when ``evse_id`` is a charger reached over OCPP."""
        return evse_id in self._station_of

    def post(self, evse_id: str, setpoint: Setpoint) -> None:
        """Sends ``setpoint`` as a charging profile when the policy says so; never waits.
        Nothing goes out while the station is offline or no transaction is open."""
        station_id = self._station_of.get(evse_id)
        if station_id is None:
            return
        connection = self._connections.get(station_id)
        transaction = self._ledgers[station_id].transaction_at(evse_id)
        if connection is None or transaction is None:
            return
        now = self._clock.now()
        running = self._running.get(transaction.session_id)
        if not self._config.policy.wants_sending(running, setpoint, now):
            return
        self._running[transaction.session_id] = setpoint
        payload = charging_profile(
            connection.version,
            transaction.evse.ocpp_evse,
            transaction.transaction_id,
            next(self._profile_ids),
            setpoint,
            now,
        )
        task = asyncio.get_running_loop().create_task(
            self._send_profile(connection, transaction.session_id, setpoint, payload)
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send_profile(
        self,
        connection: _Connection,
        session_id: str,
        setpoint: Setpoint,
        payload: dict[str, Any],
    ) -> None:
        try:
            answer = await connection.call(
                "SetChargingProfile", payload, self._config.call_timeout_s
            )
            status = answer.get("status")
        except (RuntimeError, TimeoutError, ConnectionError) as error:
            status = str(error) or type(error).__name__
        if status != "Accepted":
            logger.warning("SetChargingProfile for %s: %s", session_id, status)
            # Not running after all: the next cycle tries again.
            if self._running.get(session_id) is setpoint:
                del self._running[session_id]

    # -- remote operations ---------------------------------------------------------

    def when_booted(self, listener: Callable[[str], object]) -> None:
        """Calls ``listener`` with the station id of each BootNotification accepted
        (never awaited: a listener that must call the station does so later)."""
        self._boot_listeners.append(listener)

    def knows(self, station_id: str) -> bool:
        """True when ``station_id`` holds site EVSEs."""
        return station_id in self._config.stations

    def new_operation_id(self) -> int:
        return next(self._operation_ids)

    def is_online(self, station_id: str) -> bool:
        return station_id in self._connections

    def station_evse(self, evse_id: str) -> tuple[str, int] | None:
        """The station and its evseId holding site EVSE ``evse_id``."""
        station_id = self._station_of.get(evse_id)
        if station_id is None:
            return None
        numbers = self._config.stations[station_id]
        return station_id, next(n for n, e in numbers.items() if e.evse_id == evse_id)

    def open_transaction(self, evse_id: str) -> str | None:
        """The transaction id open at site EVSE ``evse_id``."""
        station_id = self._station_of.get(evse_id)
        if station_id is None:
            return None
        transaction = self._ledger(station_id).transaction_at(evse_id)
        return None if transaction is None else transaction.transaction_id

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Sends ``action`` to ``station_id`` and returns its answer, checked against
        the schema. Raises PayloadError when ``payload`` breaks the request schema
        (nothing is sent), StationOffline, CallFailed, or TimeoutError."""
        connection = self._connections.get(station_id)
        if connection is None:
            raise StationOffline(f"station {station_id} is not connected")
        schemas.check(connection.version, action, "Request", payload)
        try:
            answer = await connection.call(action, payload, self._config.call_timeout_s)
        except RuntimeError as error:
            raise CallFailed(str(error)) from error
        except asyncio.CancelledError as error:
            if _being_cancelled():
                raise
            raise StationOffline(f"station {station_id} went away during {action}") from error
        try:
            schemas.check(connection.version, action, "Response", answer)
        except schemas.PayloadError as error:
            raise CallFailed(f"{action} answer: {error.code}: {error.description}") from error
        return answer

    async def settle(self) -> None:
        """Waits until every profile sent so far is answered or given up."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._sending):
            task.cancel()
        for connection in list(self._connections.values()):
            await connection.socket.close()

    # -- the WebSocket side --------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /ocpp/{station_id}``: authenticate, agree on a version, serve."""
        station_id = request.match_info["station_id"]
        refusal = await self._authenticate(request, station_id)
        if refusal is not None:
            return refusal
        socket = web.WebSocketResponse(
            protocols=(OcppVersion.V21, OcppVersion.V201), max_msg_size=MAX_FRAME_BYTES
        )
        ready = socket.can_prepare(request)
        if not ready.ok or ready.protocol is None:
            # OCPP-J 2.0.1 §3.1.2: the CSMS refuses a connection without an OCPP
            # subprotocol it speaks.
            raise web.HTTPBadRequest(text="Sec-WebSocket-Protocol: ocpp2.1 or ocpp2.0.1 required")
        await socket.prepare(request)
        connection = _Connection(station_id, OcppVersion(ready.protocol), socket)
        await self._restore(station_id, connection.version)
        self._record(StationConnected(station_id, connection.version, self._clock.now()))
        self._forget_profiles(station_id)
        previous = self._connections.get(station_id)
        self._connections[station_id] = connection
        if previous is not None:
            # The station reconnected: the older socket is dead or an impostor's.
            await previous.socket.close(message=b"replaced by a newer connection")
        logger.info("station %s connected (%s)", station_id, connection.version)
        try:
            await self._serve(connection)
        finally:
            if self._connections.get(station_id) is connection:
                del self._connections[station_id]
                self._record(StationDisconnected(station_id, self._clock.now()))
            for future in connection.pending.values():
                future.cancel()
            logger.info("station %s disconnected", station_id)
        return socket

    async def _authenticate(self, request: web.Request, station_id: str) -> web.Response | None:
        """None when the request carries ``station_id``'s own credentials, else the
        401 to answer, so one station's credentials open only its own URL. Profiles 1
        and 2 (OCPP 2.0.1 part 2 A00.FR.204, profile 2 likewise): basic auth, the
        username is the station identity. Profile 3: the client certificate the TLS
        handshake verified names the station (A00.FR.404/405); basic auth is not
        asked for (A00.FR.401)."""
        if self._config.security_profile == 3:
            problem = certificate_identity_problem(
                _peer_certificate(request),
                station_id,
                self._config.organization,
                self._clock.now(),
            )
            if problem is None:
                return None
            # A00.FR.407/408: refused, and logged as a security event.
            logger.warning("station %s refused: %s", station_id, problem)
            return web.Response(status=401, text="unauthorized")
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            username, _, password = (
                base64.b64decode(encoded, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            username = password = ""
        if (
            scheme.lower() == "basic"
            and username == station_id
            and await self._credentials.verify(station_id, password)
        ):
            return None
        logger.warning("station %s refused: bad credentials", station_id)
        return web.Response(
            status=401, headers={"WWW-Authenticate": 'Basic realm="ocpp"'}, text="unauthorized"
        )

    async def _serve(self, connection: _Connection) -> None:
        async for message in connection.socket:
            if message.type is WSMsgType.TEXT:
                await self._receive(connection, message.data)
            elif message.type is WSMsgType.BINARY:
                # OCPP-J 2.0.1 §4.1: frames are text; a binary one has no readable id.
                error = FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "frames are text messages")
                await connection.send(encode(error.call_error()))
            elif message.type is WSMsgType.ERROR:
                break

    async def _receive(self, connection: _Connection, text: str) -> None:
        try:
            frame = parse_frame(text, connection.version)
        except FrameError as error:
            logger.info("station %s: %s", connection.station_id, error)
            if error.answer:
                await connection.send(encode(error.call_error()))
            return
        match frame:
            case Call():
                await self._answer(connection, frame, text)
            case CallResult():
                self._settle(connection, frame.message_id, frame.payload)
            case CallError():
                self._settle(connection, frame.message_id, frame)
            case Send():
                pass  # 2.1 periodic event streams: not subscribed to, nothing to answer

    def _settle(
        self, connection: _Connection, message_id: str, outcome: dict[str, Any] | CallError
    ) -> None:
        future = connection.pending.get(message_id)
        if future is None or future.done():
            logger.info("station %s: answer to unknown call %s", connection.station_id, message_id)
            return
        if isinstance(outcome, CallError):
            future.set_exception(RuntimeError(f"{outcome.code}: {outcome.description}"))
        else:
            future.set_result(outcome)

    async def _answer(self, connection: _Connection, call: Call, text: str) -> None:
        answers = self._answers.setdefault(connection.station_id, OrderedDict())
        fingerprint = hashlib.sha256(
            json.dumps([call.action, call.payload], sort_keys=True).encode()
        ).hexdigest()
        earlier = answers.get(call.message_id)
        if earlier is not None:
            # A repeated message id: the same call again (a station that missed our
            # answer) gets the same answer and is not processed twice; a different
            # call under a used id is refused.
            same, reply = earlier
            if same != fingerprint:
                reply = encode(
                    CallError(
                        call.message_id,
                        ErrorCode.RPC_FRAMEWORK_ERROR,
                        f"message id {call.message_id} was already used for another call",
                    )
                )
            await connection.send(reply)
            return
        reply = encode(await self._process(connection, call))
        # A BootNotification has just cleared the memory: start a new one.
        answers = self._answers.setdefault(connection.station_id, OrderedDict())
        answers[call.message_id] = (fingerprint, reply)
        while len(answers) > ANSWER_MEMORY:
            answers.popitem(last=False)
        await connection.send(reply)

    async def _process(self, connection: _Connection, call: Call) -> CallResult | CallError:
        try:
            schemas.check(connection.version, call.action, "Request", call.payload)
        except schemas.PayloadError as error:
            return CallError(call.message_id, error.code, error.description)
        handler = _HANDLERS.get(call.action)
        if handler is None:
            return CallError(
                call.message_id,
                ErrorCode.NOT_SUPPORTED,
                f"{call.action} is not supported by this CSMS",
            )
        try:
            answer = handler(self, connection, call.payload)
            payload = await answer if inspect.isawaitable(answer) else answer
        except (WireError, ValueError) as error:
            # Passed the schema but cannot be true (a date that is no date, an EVSE
            # the site does not have): a value the CSMS cannot accept.
            return CallError(
                call.message_id, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, str(error)[:255]
            )
        except Exception:
            # A bug of ours must not close the station's connection (OCPP-J 2.0.1 §4.3).
            logger.exception("station %s: %s failed", connection.station_id, call.action)
            return CallError(call.message_id, ErrorCode.INTERNAL_ERROR, f"{call.action} failed")
        return CallResult(call.message_id, payload)

    # -- what each action means --------------------------------------------------

    def _boot(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        station = payload["chargingStation"]
        # A rebooted station may count its message ids from the start again: the ids
        # it used before the boot are free (the boot's own answer is remembered after).
        self._answers.pop(connection.station_id, None)
        self._forget_profiles(connection.station_id)
        evses = self._config.stations.get(connection.station_id, {})
        numbered = tuple((n, e.evse_id) for n, e in sorted(evses.items()))
        self._record(booted(connection.station_id, payload, self._clock.now(), numbered))
        logger.info(
            "station %s booted (%s): %s %s",
            connection.station_id,
            payload["reason"],
            station["vendorName"],
            station["model"],
        )
        for listener in self._boot_listeners:
            listener(connection.station_id)
        return {
            "currentTime": wire_time(self._clock.now()),
            "interval": HEARTBEAT_INTERVAL_S,
            "status": "Accepted",
        }

    def _heartbeat(self, _connection: _Connection, _payload: dict[str, Any]) -> dict[str, Any]:
        return {"currentTime": wire_time(self._clock.now())}

    def _status(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        logger.info(
            "station %s evse %s connector %s: %s",
            connection.station_id,
            payload["evseId"],
            payload["connectorId"],
            payload["connectorStatus"],
        )
        self._record(status_changed(connection.station_id, payload, self._clock.now()))
        return {}

    def _transaction(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        before = self._ledger(connection.station_id)
        ledger, events = before.on_transaction_event(payload, connection.version)
        if ledger is before:
            return {}  # a replay: nothing folded, nothing stored
        self._ledgers[connection.station_id] = ledger
        transaction_id = payload["transactionInfo"]["transactionId"]
        open_tx = ledger.transactions.get(transaction_id) or before.transactions.get(
            transaction_id
        )
        if open_tx is None:  # opened and ended by this one event
            wire_evse = ledger.evses[payload["evse"]["id"]]
            session_id, evse = ledger.session_id(transaction_id), wire_evse
        else:
            session_id, evse = open_tx.session_id, open_tx.evse
        self._record(
            transaction_recorded(
                connection.station_id,
                session_id,
                evse.ocpp_evse,
                evse.evse_id,
                payload,
                self._clock.now(),
            )
        )
        for event in events:
            self._on_event(event)
        return {}

    def _charging_needs(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            events = self._ledger(connection.station_id).on_charging_needs(
                payload, self._clock.now()
            )
        except WireError as error:
            return {
                "status": "Rejected",
                "statusInfo": {"reasonCode": "InvalidValue", "additionalInfo": str(error)[:500]},
            }
        for event in events:
            self._on_event(event)
        return {"status": "Accepted"}

    async def _authorize(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        verdict = await self._authorization.answer(payload, self._clock.now())
        logger.info(
            "station %s: Authorize %s %s: %s %s",
            connection.station_id,
            payload["idToken"]["type"],
            payload["idToken"]["idToken"],
            verdict.status,
            verdict.reason,
        )
        return verdict.payload()

    def _security_event(self, connection: _Connection, payload: dict[str, Any]) -> dict[str, Any]:
        # OCPP 2.0.1 A04: a station's security event, kept in the log.
        logger.warning(
            "station %s security event %s at %s: %s",
            connection.station_id,
            payload["type"],
            payload["timestamp"],
            payload.get("techInfo", ""),
        )
        return {}

    async def _ev_certificate(
        self, connection: _Connection, payload: dict[str, Any]
    ) -> dict[str, Any]:
        answer = await ev_certificate_answer(self._certificates, payload)
        logger.info(
            "station %s: Get15118EVCertificate %s: %s",
            connection.station_id,
            payload["action"],
            answer["status"],
        )
        return answer

    def _record(self, found: OcppRecord) -> None:
        if self._records is not None:
            self._records(found)

    async def _restore(self, station_id: str, version: OcppVersion) -> None:
        """The first time ``station_id`` connects to this process: its transactions
        as the store has them, so a replay after a CSMS restart is known as one and
        the fleet hears of sessions still open."""
        if self._history is None or station_id in self._restored:
            return
        try:
            restored = await self._history.restore(station_id)
        except Exception:
            # The store is away: serve the station anyway; try again at its next
            # connection (until then a replay after a restart may be folded again).
            logger.exception("station %s: its transactions could not be read back", station_id)
            return
        if station_id in self._restored:
            return  # a second connection restored it while this one waited
        self._restored.add(station_id)
        ledger, events = self._ledger(station_id).restored(restored, version)
        self._ledgers[station_id] = ledger
        for event in events:
            self._on_event(event)

    def _forget_profiles(self, station_id: str) -> None:
        """A station that (re)connects or reboots may have lost what it ran: its next
        setpoints go out whatever the deadband says."""
        prefix = f"{station_id}/"
        for session_id in [s for s in self._running if s.startswith(prefix)]:
            del self._running[session_id]

    def _ledger(self, station_id: str) -> StationLedger:
        if station_id not in self._ledgers:
            self._ledgers[station_id] = StationLedger(station_id, {})
        return self._ledgers[station_id]


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


_Handler = Callable[
    [Csms, _Connection, dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]
]

_HANDLERS: Mapping[str, _Handler] = {
    "BootNotification": Csms._boot,
    "Heartbeat": Csms._heartbeat,
    "StatusNotification": Csms._status,
    "TransactionEvent": Csms._transaction,
    "NotifyEVChargingNeeds": Csms._charging_needs,
    "Authorize": Csms._authorize,
    "Get15118EVCertificate": Csms._ev_certificate,
    "SecurityEventNotification": Csms._security_event,
}


class OcppLink:
    """A SessionLink that sends OCPP chargers' setpoints through the CSMS and every
    other charger's through ``others`` (the in-process mailboxes)."""

    def __init__(self, csms: Csms, others: Any) -> None:
        self._csms = csms
        self._others = others

    def post(self, evse_id: str, setpoint: Setpoint) -> None:
        if self._csms.holds(evse_id):
            self._csms.post(evse_id, setpoint)
        else:
            self._others.post(evse_id, setpoint)


def _contract_provider(config: OcppSiteConfig, clock: Clock) -> ContractProvider:
    """The site's ``contract_provider_pki`` (test benches), or none."""
    if config.contract_provider_pki is None or config.contract_provider_emaid is None:
        return NoContractProvider()
    from pki.store import PkiStore
    from v2g.ocpp.contract_provider import PkiContractProvider

    store = PkiStore(config.contract_provider_pki)
    return PkiContractProvider(store, config.contract_provider_emaid, clock, os.environ)


def _peer_certificate(request: web.Request) -> bytes | None:
    """The client certificate (DER) of the TLS connection ``request`` came on."""
    transport = request.transport
    tls = transport.get_extra_info("ssl_object") if transport is not None else None
    if tls is None:
        return None
    der = tls.getpeercert(binary_form=True)
    return bytes(der) if der else None


@contextlib.asynccontextmanager
async def serving(csms: Csms, host: str, port: int) -> Any:
    """The CSMS listening on ``host``:``port`` for as long as the context lasts: plain
    ws in security profile 1, TLS only in 2 and 3 (raises ConfigError when the
    certificate files cannot be used)."""
    config = csms.config
    try:
        tls = csms_context(config.security_profile, config.tls, os.environ)
    except TlsConfigError as error:
        raise ConfigError([f"ocpp: {error}"]) from error
    app = web.Application()
    app.router.add_get("/ocpp/{station_id}", csms.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, ssl_context=tls).start()
        logger.info(
            "CSMS listening on %s://%s:%d/ocpp/<station id> (security profile %d)",
            "ws" if tls is None else "wss",
            host,
            port,
            config.security_profile,
        )
        yield
    finally:
        await csms.close()
        await runner.cleanup()
