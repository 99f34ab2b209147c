"""The hooks that hand the product's PKI to the iso15118 SECC (process-wide, as the
package's own settings are), installed by the station only when ``pki_dir`` is set:

- its TLS context comes from hard-coded paths with the TLS version set by a global
  flag: the station's context (TLS 1.2 and 1.3 on one listener) replaces it, and a
  TLS 1.3 connection without a valid EV certificate is closed at once;
- -20 Plug & Charge checks only the leaf's signature: the whole contract chain is
  verified before the package's own handling, and message signatures are checked in
  the key's suite (the package knows secp256r1 only);
- -2 certificate installation is checked before the package answers;
- -20 certificate installation raises NotImplementedError although advertised: it is
  never advertised, and -20 Plug & Charge is offered only over TLS 1.3.

Each wrapper keeps the package's original method (``__v2g_original__``), so
installing twice wraps once. See the decision record "PKI at the SECC".
"""

from __future__ import annotations

import asyncio
import copy
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, Protocol

from pki.profiles import Role
from pki.tls import client_certificate, requires_client_certificate
from v2g.secc import message_signature
from v2g.secc.framed_reader import SEQUENCE_TIMEOUT_S, FramedReader
from v2g.secc.plug_and_charge import PlugAndCharge, response_code_v2, response_code_v20
from v2g.secc.v2gtp import Phase, may_start_handshake

logger = logging.getLogger(__name__)


def install_hooks(pnc: PlugAndCharge) -> None:
    """Point the iso15118 SECC at ``pnc`` (TLS context, -20 chain check, -20 offer)."""
    from iso15118.secc.states import iso15118_20_states
    from iso15118.secc.transport import tcp_server

    log_failed_handshakes(pnc.tls_context)

    def get_ssl_context(server_side: bool) -> ssl.SSLContext | None:
        return pnc.tls_context if server_side else None

    tcp_server.get_ssl_context = get_ssl_context
    tcp_server.TCPServer.__call__ = _guard_client(tcp_server.TCPServer.__call__, pnc)  # type: ignore[method-assign]
    from iso15118.secc.states import iso15118_2_states

    installation_2 = iso15118_2_states.CertificateInstallation
    installation_2.process_message = _checked_installation(  # type: ignore[method-assign]
        installation_2.process_message, pnc
    )
    # The package verifies -20 message signatures with secp256r1 only.
    iso15118_20_states.verify_signature = message_signature.verify_signature
    authorization = iso15118_20_states.Authorization
    authorization.process_message = _checked_authorization(  # type: ignore[method-assign]
        authorization.process_message, pnc
    )
    installation = iso15118_20_states.CertificateInstallation
    installation.process_message = _refused_installation  # type: ignore[method-assign]
    setup = iso15118_20_states.AuthorizationSetup
    setup.process_message = _honest_authorization_setup(setup.process_message)  # type: ignore[method-assign]


class _HandshakeLogged(ssl.SSLObject):
    """asyncio's TLS handshake through ``SSLContext.wrap_bio``, with one ERROR line
    when it fails: asyncio drops a failed server-side handshake silently (an
    ``OSError`` is logged only in debug mode), so the SECC's log had no trace of an EV
    refused at TLS."""

    #: None until the handshake began; then "started", "done" or "failed".
    _v2g_handshake: str | None = None

    def do_handshake(self) -> None:
        self._v2g_handshake = "started"
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise  # not a failure: the handshake waits for the peer
        except (ssl.SSLError, OSError) as error:
            self._v2g_handshake = "failed"
            logger.error("TLS handshake failed: %s", _handshake_reason(error))
            raise
        self._v2g_handshake = "done"

    def __del__(self) -> None:
        # A peer that closes mid-handshake never makes do_handshake fail: asyncio
        # ends the handshake on EOF itself. The object is dropped with the connection.
        if self._v2g_handshake == "started":
            logger.error(
                "TLS handshake failed: the connection closed before the handshake completed"
            )


def _handshake_reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {error.verify_message}"
    reason = getattr(error, "reason", None)
    return str(reason) if reason else f"{type(error).__name__}: {error}"


def log_failed_handshakes(context: ssl.SSLContext) -> None:
    """Make every TLS handshake that ``context`` serves through asyncio log one line
    with its reason when it fails."""
    context.sslobject_class = _HandshakeLogged


def _guard_client(accept: Any, pnc: PlugAndCharge) -> Any:
    """Close a TLS 1.3 connection whose EV presented no certificate (ISO 15118-20
    requires mutual authentication), or one that is expired or not an OEM provisioning
    certificate, before the package sees it."""

    original = getattr(accept, "__v2g_original__", accept)

    async def guarded(self: Any, reader: Any, writer: Any) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        if (
            ssl_object is not None
            and requires_client_certificate(ssl_object)
            and client_certificate(ssl_object) is None
        ):
            logger.error(
                "TLS 1.3 connection from %s closed: ISO 15118-20 requires the EV's "
                "certificate and none was offered",
                writer.get_extra_info("peername"),
            )
            writer.close()
            return
        problem = pnc.check_vehicle_certificate(ssl_object) if ssl_object else None
        if problem is not None:
            logger.error(
                "TLS connection from %s closed: %s", writer.get_extra_info("peername"), problem
            )
            writer.close()
            return
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            logger.info(
                "TLS session %s %s; EV certificate: %s",
                ssl_object.version(),
                cipher[0] if cipher else "?",
                "verified" if client_certificate(ssl_object) else "none (unilateral)",
            )
        await original(self, reader, writer)

    guarded.__v2g_original__ = original  # type: ignore[attr-defined]
    return guarded


def _checked_authorization(process_message: Any, pnc: PlugAndCharge) -> Any:
    """-20 AuthorizationReq: verify the whole contract chain before the package checks
    the signature with the leaf."""
    original = getattr(process_message, "__v2g_original__", process_message)

    async def checked(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        from iso15118.shared.messages.iso15118_20.common_messages import AuthorizationReq

        params = (
            getattr(message, "pnc_params", None) if isinstance(message, AuthorizationReq) else None
        )
        if params is not None:
            chain = params.contract_cert_chain
            subs = list(chain.sub_certificates.certificates) if chain.sub_certificates else []
            verdict = pnc.check_contract_der(chain.certificate, subs)
            if not verdict.accepted:
                assert verdict.failure is not None
                reason = f"Plug & Charge rejected: {verdict.reason}"
                logger.error(reason)
                self.stop_state_machine(reason, message, response_code_v20(verdict.failure))
                return
            logger.info("Plug & Charge: contract %s verified to its root", verdict.emaid)
        await original(self, message, message_exi)

    checked.__v2g_original__ = original  # type: ignore[attr-defined]
    return checked


def _checked_installation(process_message: Any, pnc: PlugAndCharge) -> Any:
    """-2 CertificateInstallationReq: verify the EV's OEM provisioning certificate to the
    OEM root, and the contract chain about to be installed to its root, before the
    package builds the answer."""
    original = getattr(process_message, "__v2g_original__", process_message)

    async def checked(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        request = getattr(getattr(message, "body", None), "certificate_installation_req", None)
        if request is not None:
            verdict = pnc.check_provisioning_certificate(request.oem_provisioning_cert)
            # With a backend (OCPP Get15118EVCertificate) the contract comes from there.
            if verdict.accepted and not self.comm_session.config.use_cpo_backend:
                store = pnc.store
                verdict = pnc.check_contract(
                    store.certificate(Role.CONTRACT_LEAF),
                    [store.certificate(r) for r in (Role.MO_SUB_CA2, Role.MO_SUB_CA1)],
                )
            if not verdict.accepted:
                assert verdict.failure is not None
                reason = f"certificate installation refused: {verdict.reason}"
                logger.error(reason)
                self.stop_state_machine(reason, message, response_code_v2(verdict.failure))
                return
            logger.info("certificate installation: OEM provisioning and contract chains verified")
        await original(self, message, message_exi)

    checked.__v2g_original__ = original  # type: ignore[attr-defined]
    return checked


async def _refused_installation(self: Any, message: Any, message_exi: bytes | None = None) -> None:
    """-20 CertificateInstallationReq from an EV that was not offered the service: a
    FAILED answer ends the session (the package would raise NotImplementedError)."""
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode

    reason = "ISO 15118-20 certificate installation is not offered by this SECC"
    logger.error(reason)
    self.stop_state_machine(reason, message, ResponseCode.FAILED)


def _is_tls13(session: Any) -> bool:
    writer = getattr(session, "writer", None)
    ssl_object = writer.get_extra_info("ssl_object") if writer is not None else None
    return bool(session.is_tls) and ssl_object is not None and ssl_object.version() == "TLSv1.3"


def _honest_authorization_setup(process_message: Any) -> Any:
    """-20 AuthorizationSetupRes: never advertise certificate installation (the package
    raises NotImplementedError on it) and offer Plug & Charge only over TLS 1.3, which
    ISO 15118-20 requires (a -20 session over TCP or TLS 1.2 gets EIM only)."""
    original = getattr(process_message, "__v2g_original__", process_message)

    async def honest(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        from iso15118.shared.messages.enums import AuthEnum

        session = self.comm_session
        shared = session.config
        offered = copy.copy(shared)
        offered.allow_cert_install_service = False
        if not _is_tls13(session):
            offered.supported_auth_options = [
                a for a in shared.supported_auth_options if a != AuthEnum.PNC
            ]
        session.config = offered
        try:
            await original(self, message, message_exi)
        finally:
            session.config = shared

    honest.__v2g_original__ = original  # type: ignore[attr-defined]
    return honest


#: Seconds a new TCP connection has to send its first message (SupportedAppProtocolReq,
#: which an EVCC sends at once after connecting) before it is closed unseen.
FIRST_MESSAGE_S = 2.0
#: A live connection that has sent nothing for this long no longer holds the EVSE
#: (ISO 15118-2 V2G_SECC_Sequence_Timeout, 60 s: the package itself gives up then).
QUIET_LIMIT_S = 60.0


def install_connection_guard(
    first_message_s: float = FIRST_MESSAGE_S, quiet_limit_s: float = QUIET_LIMIT_S
) -> None:
    """Guard the iso15118 SECC's TCP server against two package traps (see the
    decision record "One connection per EVSE"):

    - every TCP connection becomes a new communication session on the same EVSE
      controller, and its SupportedAppProtocolReq resets the live session mid-charge:
      a second connection while one is live is closed before the package sees it;
    - a connection pauses SDP until its session ends (20 s of silence plus 5 s of
      closing): a connection only reaches the package once it has sent its first
      bytes, within ``first_message_s``; an idle one is closed unseen.

    Install after ``install_hooks`` (which would unwrap this guard); installing again
    replaces the guard, never stacks it.
    """
    from iso15118.secc.transport import tcp_server

    current = tcp_server.TCPServer.__call__
    inner = getattr(current, "__v2g_guarded_inner__", current)
    tcp_server.TCPServer.__call__ = _one_connection_at_a_time(  # type: ignore[method-assign]
        inner, first_message_s, quiet_limit_s
    )


@dataclass(slots=True)
class _Connection:
    """A connection handed to the package: its writer, the task relaying what the EV
    sends, and the monotonic second (s) it last sent something."""

    writer: asyncio.StreamWriter
    relay: asyncio.Task[None] | None
    last_heard_s: float

    def holds_evse(self, now_s: float, quiet_limit_s: float) -> bool:
        relaying = self.relay is not None and not self.relay.done()
        heard = now_s - self.last_heard_s < quiet_limit_s
        return relaying and heard and not self.writer.is_closing()


def _one_connection_at_a_time(accept: Any, first_message_s: float, quiet_limit_s: float) -> Any:
    """``accept`` (the package's TCP callback) guarded: see ``install_connection_guard``."""

    async def guarded(self: Any, reader: asyncio.StreamReader, writer: Any) -> None:
        peer = writer.get_extra_info("peername")
        try:
            first = await asyncio.wait_for(reader.read(_CHUNK), timeout=first_message_s)
        except (TimeoutError, ConnectionError, OSError):
            first = b""
        if not first:
            logger.warning(
                "TCP connection from %s closed: nothing sent within %g s (SDP stays open)",
                peer,
                first_message_s,
            )
            writer.close()
            return
        if not may_start_handshake(first):
            # Not a V2GTP SupportedAppProtocolReq: closed before the package starts a
            # session for it (which would linger 5 s and pause SDP).
            logger.warning(
                "TCP connection from %s closed: its first bytes (%s) do not start a "
                "V2GTP SupportedAppProtocolReq",
                peer,
                first[:8].hex(),
            )
            writer.close()
            return
        connections: list[_Connection] = self.__dict__.setdefault("_v2g_connections", [])
        now_s = time.monotonic()
        connections[:] = [c for c in connections if c.holds_evse(now_s, quiet_limit_s)]
        if connections:
            logger.warning(
                "TCP connection from %s closed: a session is live on this EVSE "
                "(a second SupportedAppProtocol would reset it)",
                peer,
            )
            writer.close()
            return
        connection = _Connection(writer, None, now_s)
        relayed = asyncio.StreamReader(limit=_CHUNK * 4)
        relayed.feed_data(first)
        relay = asyncio.get_running_loop().create_task(_relay(reader, relayed, connection))
        # Held until done, even once the connection no longer holds the EVSE.
        relays: set[asyncio.Task[None]] = self.__dict__.setdefault("_v2g_relays", set())
        relays.add(relay)
        relay.add_done_callback(relays.discard)
        connection.relay = relay
        connections.append(connection)
        await accept(self, relayed, writer)

    guarded.__v2g_guarded_inner__ = accept  # type: ignore[attr-defined]
    guarded.__v2g_original__ = getattr(accept, "__v2g_original__", accept)  # type: ignore[attr-defined]
    return guarded


#: Bytes read from the socket at a time (a V2GTP message here is at most a few KiB).
_CHUNK = 65536


async def _relay(
    source: asyncio.StreamReader, target: asyncio.StreamReader, connection: _Connection
) -> None:
    """Copy what the EV sends to the reader the package reads, noting when."""
    try:
        while chunk := await source.read(_CHUNK):
            connection.last_heard_s = time.monotonic()
            target.feed_data(chunk)
    except (ConnectionError, OSError) as error:
        target.set_exception(ConnectionResetError(str(error)))
        return
    except AssertionError:
        # asyncio refuses data after EOF: the package fed EOF itself to end the
        # session (close_session), so what the EV sends now has no reader.
        return
    target.feed_eof()


def install_framer(sequence_timeout_s: float = SEQUENCE_TIMEOUT_S) -> None:
    """Make the iso15118 SECC read V2GTP as a byte stream (the package's trap: its read
    loop takes one ``read(7000)`` for one whole message; see the decision record "The
    SECC reads V2GTP as a byte stream"). Each SECC session's read loop reads through a
    ``FramedReader``: whole messages, checked per phase, a stalled message ends the
    session at ``sequence_timeout_s``. Installing again replaces the framer, never
    stacks it; the package's TCP server and its guards are untouched."""
    from iso15118.secc.comm_session_handler import SECCCommunicationSession

    current = SECCCommunicationSession.rcv_loop
    original = getattr(current, "__v2g_original__", current)

    async def framed_rcv_loop(self: Any, timeout: float) -> None:
        if not isinstance(self.reader, FramedReader):
            self.reader = FramedReader(
                self.reader, lambda: phase_of(self.protocol), self.peer_name, sequence_timeout_s
            )
        await original(self, timeout)

    framed_rcv_loop.__v2g_original__ = original  # type: ignore[attr-defined]
    SECCCommunicationSession.rcv_loop = framed_rcv_loop  # type: ignore[method-assign]
    SECCCommunicationSession.stop = _prompt_when_waiting(SECCCommunicationSession.stop)  # type: ignore[method-assign]
    quiet_read_loop_errors()


#: How long a closing connection may take to say goodbye (a TLS close_notify) before
#: it is cut: the EVSE is free either way.
CLOSE_GRACE_S = 1.0


def _prompt_when_waiting(stop: Any) -> Any:
    """The SECC session's ``stop`` without the package's 5 s linger (2 s before the
    data link is terminated, 3 s more before the socket is closed) when the session
    ends while its reader waits for the EV's request: a stalled or silent EV, a lost
    framing, a closed connection. The linger is there so that a last response still
    goes out; here none is in flight (the last one was sent and drained before the
    read began), so the EVSE is freed at once. A session that ends after processing
    a request (SessionStopRes, a FAILED answer) keeps the package's linger."""
    original = getattr(stop, "__v2g_original__", stop)

    async def stop_(self: Any, reason: str) -> None:
        reader = getattr(self, "reader", None)
        if isinstance(reader, FramedReader) and reader.waiting_for_request:
            await _stop_now(self, reason)
        else:
            await original(self, reason)

    stop_.__v2g_original__ = original  # type: ignore[attr-defined]
    return stop_


async def _stop_now(session: Any, reason: str) -> None:
    """What the package's SECC ``stop`` does, in its order, without its sleeps."""
    from iso15118.shared.messages.enums import SessionStopAction
    from iso15118.shared.states import Pause

    await session.evse_controller.stop_charger()
    paused = session.current_state.next_state == Pause
    if paused:
        session.save_session_info()
    action = SessionStopAction.PAUSE if paused else SessionStopAction.TERMINATE
    logger.info(
        "session with %s ended while waiting for its request (%s): data link %s and "
        "TCP connection closed now",
        session.peer_name,
        reason,
        action.value,
    )
    await session.evse_controller.update_data_link(action)
    await session.evse_controller.session_ended(str(session.current_state), reason)
    writer = session.writer
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CLOSE_GRACE_S)
    except (TimeoutError, ConnectionError, OSError):
        writer.transport.abort()


def phase_of(protocol: Any) -> Phase:
    """What a session whose agreed protocol is the package's ``protocol`` expects."""
    from iso15118.shared.messages.enums import Protocol

    if protocol is Protocol.DIN_SPEC_70121:
        return Phase.DIN
    if protocol is Protocol.ISO_15118_2:
        return Phase.ISO_2
    if protocol is Protocol.UNKNOWN:
        return Phase.HANDSHAKE
    return Phase.ISO_20


class TracebacksAtDebug(logging.Filter):
    """One line per message the package's read loop could not handle: its traceback and
    its hex dump of the payload are kept for DEBUG level only (iso15118 0.31.2 logs both
    at ERROR, ~25 lines per bad frame)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return True
        if record.levelno >= logging.ERROR and str(record.msg).startswith("EXI message (ns="):
            return False  # the payload in hex: a second line for the same frame
        record.exc_info = None
        record.exc_text = None
        return True


#: The package's logger that reports what its read loop could not decode or handle.
_READ_LOOP_LOGGER = "iso15118.shared.comm_session"


def quiet_read_loop_errors() -> None:
    """Install ``TracebacksAtDebug`` on the package's read-loop logger (once)."""
    target = logging.getLogger(_READ_LOOP_LOGGER)
    if not any(isinstance(f, TracebacksAtDebug) for f in target.filters):
        target.addFilter(TracebacksAtDebug())


def install_renegotiation_stop() -> None:
    """iso15118 0.31.2's trap: a -2 PowerDeliveryReq(ChargeProgress=Renegotiate) is
    answered without a word to the EVSE controller (``stop_charger`` is called on Stop
    only), so the power stage kept delivering the charge loop's current, CableCheck
    found it flowing and the PreCharge that follows failed ("Target current or present
    current too high in state Precharge"). The controller is told before the package
    answers, so the output ramps to 0 A while the EV renegotiates. Installing again
    replaces the hook, never stacks it."""
    from iso15118.secc.states import iso15118_2_states
    from iso15118.shared.messages.iso15118_2.datatypes import ChargeProgress

    state = iso15118_2_states.PowerDelivery
    current = state.process_message
    original: Any = getattr(current, "__v2g_original__", current)

    async def watched(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        request = getattr(getattr(message, "body", None), "power_delivery_req", None)
        if request is not None and request.charge_progress == ChargeProgress.RENEGOTIATE:
            pause = getattr(self.comm_session.evse_controller, "pause_energy_transfer", None)
            if pause is not None:
                pause("PowerDelivery Renegotiate")
        await original(self, message, message_exi)

    watched.__v2g_original__ = original  # type: ignore[attr-defined]
    state.process_message = watched  # type: ignore[method-assign]


class ExchangeTimer(Protocol):
    """Told when a whole request arrived and when its answer was sent."""

    def request_arrived(self, arrived_s: float) -> None: ...

    def response_sent(self, sent_s: float) -> None: ...


def install_exchange_timing(timer: ExchangeTimer) -> None:
    """Time each exchange of the iso15118 SECC at its read loop: from the moment the
    loop holds a whole request (the package's ``process_message`` of the raw bytes) to
    the moment the answer was written to the socket (its ``send``, after the write is
    drained). A request that is never answered (an ignored frame, a session ended
    without one) is replaced by the next. Installing again replaces the timer."""
    from iso15118.secc.comm_session_handler import SECCCommunicationSession

    process = SECCCommunicationSession.process_message
    original_process: Any = getattr(process, "__v2g_timed_inner__", process)
    send = SECCCommunicationSession.send
    original_send: Any = getattr(send, "__v2g_timed_inner__", send)

    async def timed_process(self: Any, message: bytes) -> None:
        timer.request_arrived(time.perf_counter())
        await original_process(self, message)

    async def timed_send(self: Any, message: Any) -> None:
        await original_send(self, message)
        timer.response_sent(time.perf_counter())

    timed_process.__v2g_timed_inner__ = original_process  # type: ignore[attr-defined]
    timed_send.__v2g_timed_inner__ = original_send  # type: ignore[attr-defined]
    SECCCommunicationSession.process_message = timed_process  # type: ignore[method-assign]
    SECCCommunicationSession.send = timed_send  # type: ignore[method-assign]


def install_charge_loop_timeout() -> None:
    """ISO 15118-20 Tables 216 (AC) and 217 (DC): after AC_ChargeLoopRes or
    DC_ChargeLoopRes the SECC waits V2G_SECC_Sequence_Timeout_AC_CL / _DC_CL (0.5 s)
    for the next request, not the 60 s of Table 215 ([V2G20-1500], [V2G20-1502] make
    the tables binding on the SECC). iso15118 0.31.2 defines both values and re-arms
    60 s in both loops, so an EV that goes silent mid-charge kept the output on for a
    minute. After each charge-loop answer the state's timeout is the table's; the
    package's read loop ends the session when it runs out (``session_ended`` brings the
    output to rest first). Other answers in the loop (PowerDeliveryRes, which an EV
    uses to pause) keep their 60 s. DIN SPEC 70121 and -2 have no charge-loop value:
    their V2G_SECC_Sequence_Timeout (60 s) is the package's already. Installing again
    replaces the hook, never stacks it."""
    from iso15118.secc.states import iso15118_20_states as states
    from iso15118.shared.messages.iso15118_20.ac import ACChargeLoopRes
    from iso15118.shared.messages.iso15118_20.dc import DCChargeLoopRes
    from iso15118.shared.messages.iso15118_20.timeouts import Timeouts

    for state, answer, timeout_s in (
        (states.ACChargeLoop, ACChargeLoopRes, Timeouts.V2G_SECC_SEQUENCE_TIMEOUT_AC_CL),
        (states.DCChargeLoop, DCChargeLoopRes, Timeouts.V2G_SECC_SEQUENCE_TIMEOUT_DC_CL),
    ):
        state.process_message = _charge_loop_timed(  # type: ignore[method-assign]
            state.process_message, answer, float(timeout_s)
        )


def _charge_loop_timed(process_message: Any, answer: type, timeout_s: float) -> Any:
    original = getattr(process_message, "__v2g_original__", process_message)

    async def timed(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        await original(self, message, message_exi)
        if isinstance(getattr(self, "message", None), answer) and self.next_state is None:
            self.next_msg_timeout = timeout_s

    timed.__v2g_original__ = original  # type: ignore[attr-defined]
    return timed
