"""A scripted EV on the wire: real request bytes with chosen TCP segmentation.

It replays the requests of a session captured in ``tests/data/exi_corpus.json`` (each
encoded again with the native codec, ``v2g.exi``, under the SessionID the SECC gives
it), finds the SECC through SDP (TCP, or TLS with a ``v2g pki init`` folder: TLS 1.2
for DIN and -2, TLS 1.3 with the OEM leaf for -20) and writes each V2GTP message as the
script says: whole, header and payload apart, a byte at a time, or two messages in one
segment (over TLS, each write is one TLS record). It can also stall in the middle of a
message or send a frame of a payload type the protocol does not have. It times each
exchange where the vehicle sees it: from the last byte of its request to the first
byte of the response. Run in the vehicle's network namespace:

``python -m tests.integration.wire_vehicle SCRIPT.json`` prints a JSON ``Outcome``.

Nothing here imports the iso15118 package: the EV's side is bytes and the codec only.
"""

from __future__ import annotations

import json
import random
import socket
import ssl
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from v2g.exi.codec import decode, encode
from v2g.secc.v2gtp import HEADER_BYTES, Header, Phase, frame

CORPUS = Path(__file__).parents[1] / "data" / "exi_corpus.json"

SAP_NS = "urn:iso:15118:2:2010:AppProtocol"
DIN_NS = "urn:din:70121:2012:MsgDef"
ISO2_NS = "urn:iso:15118:2:2013:MsgDef"
#: ISO 15118-20 Table 12: the payload type of each schema's messages.
PAYLOAD_TYPE_20 = {
    "urn:iso:std:iso:15118:-20:CommonMessages": 0x8002,
    "urn:iso:std:iso:15118:-20:AC": 0x8003,
    "urn:iso:std:iso:15118:-20:DC": 0x8004,
}
NS_OF_TYPE_20 = {t: ns for ns, t in PAYLOAD_TYPE_20.items()}
#: The captured session whose SupportedAppProtocolReq picks each protocol family (the
#: corpus keeps one copy of each distinct message: only a family's first session has it).
SAP_SESSION = {
    "din-dc": "din-dc/dynamic",
    "iso2-ac": "iso2-ac/dynamic",
    "iso2-dc": "iso2-ac/dynamic",
    "iso20-ac": "iso20-ac/dynamic",
    "iso20-ac-bpt": "iso20-ac/dynamic",
    "iso20-dc": "iso20-dc/dynamic",
    "iso20-dc-bpt": "iso20-dc/dynamic",
}

#: Requests the SECC may answer with EVSEProcessing Ongoing (the EV then repeats them):
#: never the first of a coalesced pair.
MAY_BE_ONGOING = frozenset(
    {
        "ContractAuthenticationReq",
        "AuthorizationReq",
        "ChargeParameterDiscoveryReq",
        "CableCheckReq",
        "DC_CableCheckReq",
        "ScheduleExchangeReq",
    }
)
MAX_REPEATS = 200
#: The requests of the charge loop, repeated ``charge_loop_repeats`` times on request.
CHARGE_LOOP = frozenset(
    {"CurrentDemandReq", "ChargingStatusReq", "DC_ChargeLoopReq", "AC_ChargeLoopReq"}
)

WHOLE, SPLIT, BYTES, COALESCED = "whole", "split", "bytes", "coalesced"


@dataclass(frozen=True, slots=True)
class Request:
    """One captured EV request: its namespace and JSON-shaped message."""

    namespace: str
    message: dict[str, Any]

    @property
    def name(self) -> str:
        root = next(iter(self.message))
        return next(iter(self.message[root]["Body"])) if root == "V2G_Message" else root

    def payload_type(self) -> int:
        return PAYLOAD_TYPE_20.get(self.namespace, 0x8001)

    def encoded(self, session_id: str | None) -> bytes:
        """The V2GTP message of this request under ``session_id`` (hex; None: as
        captured)."""
        message = json.loads(json.dumps(self.message))
        root = next(iter(message))
        body = message[root]
        header = body.get("Header") if root != "V2G_Message" else body["Header"]
        if session_id is not None and header is not None:
            header["SessionID"] = session_id
        return frame(self.payload_type(), encode(message, self.namespace))


def captured_session(session: str) -> list[Request]:
    """The EV's requests of a captured session, SupportedAppProtocolReq first."""
    messages = json.loads(CORPUS.read_text(encoding="utf-8"))["messages"]
    family = session.split("/", maxsplit=1)[0]
    sap = next(
        Request(m["ns"], m["json"])
        for m in messages
        if m["session"] == SAP_SESSION[family] and "supportedAppProtocolReq" in m["json"]
    )
    requests = [
        Request(m["ns"], m["json"])
        for m in messages
        if m["session"] == session and m["direction"] == "decode" and m["ns"] != SAP_NS
    ]
    return [sap, *requests]


@dataclass(frozen=True, slots=True)
class Script:
    """What the EV does. ``segmentation``: whole, split (header and payload apart),
    bytes (one byte per segment, ``byte_delay_s`` apart) or coalesced (two requests per
    segment where the first needs no repetition). ``stall_at``: index of the request
    after whose first ``stall_after_bytes`` bytes the EV falls silent (and waits to
    be closed). ``wrong_type_at``: index of a request sent first under a payload type
    of the other protocol family. Fuzz (random, from ``seed``): ``junk_connections``
    fresh connections whose first message is random or a SAP frame with a mutated
    header; ``noise_frames`` frames of payload types the phase does not know, before
    request ``noise_at``; at ``bad_frame_at`` one frame after which the session cannot
    go on (``bad_frame``: version, over-bound or garbage-exi)."""

    interface: str
    session: str
    segmentation: str = WHOLE
    byte_delay_s: float = 0.001
    stall_at: int | None = None
    stall_after_bytes: int = HEADER_BYTES
    wrong_type_at: int | None = None
    read_timeout_s: float = 10.0
    wait_close_s: float = 15.0
    seed: int = 0
    junk_connections: int = 0
    noise_at: int | None = None
    noise_frames: int = 0
    bad_frame_at: int | None = None
    bad_frame: str = "version"
    #: A ``v2g pki init`` folder: SDP asks for TLS and the EV connects with it.
    tls_pki_dir: str | None = None
    #: The first charge-loop request is sent this many times more (benchmarks), with
    #: ``loop_pause_s`` between two.
    charge_loop_repeats: int = 0
    loop_pause_s: float = 0.0


@dataclass(slots=True)
class Outcome:
    """What the EV saw: the responses (names and codes), whether the session completed
    (SessionStopRes OK), and when the SECC closed the connection, in s from the last
    byte the EV sent (None: it did not within the wait)."""

    responses: list[str] = field(default_factory=list)
    #: Per answered request: its name and ms from the request's last byte to the
    #: response's first byte (not for the second request of a coalesced pair).
    wire_ms: list[tuple[str, float]] = field(default_factory=list)
    tls: str = ""
    junk_refused: int = 0
    noise_sent: int = 0
    completed: bool = False
    closed_after_s: float | None = None
    error: str = ""


def discover(interface: str, tls: bool = False) -> tuple[str, int]:
    """The SECC's address and TCP port, through SDP on ``interface`` (security 0x00 TLS
    or 0x10 no TLS, transport 0x00 TCP: -2 Table 15)."""
    scope = socket.if_nametoindex(interface)
    request = frame(0x9000, bytes((0x00 if tls else 0x10, 0x00)))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sdp:
        sdp.settimeout(1)
        for _ in range(30):
            sdp.sendto(request, ("ff02::1", 15118, 0, scope))
            try:
                answer, _ = sdp.recvfrom(64)
            except TimeoutError:
                continue
            payload = answer[HEADER_BYTES:]
            host = socket.inet_ntop(socket.AF_INET6, payload[:16])
            return f"{host}%{interface}", struct.unpack(">H", payload[16:18])[0]
    raise TimeoutError("no SDP answer")


class Wire:
    """The EV's TCP connection, writing with the chosen segmentation."""

    def __init__(self, host: str, port: int, script: Script) -> None:
        sock = socket.create_connection((host, port), timeout=script.read_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if script.tls_pki_dir is not None:
            sock = tls_context(script).wrap_socket(sock)
        self.sock = sock
        self.script = script
        self.last_sent = time.monotonic()
        self.first_received = 0.0

    @property
    def tls(self) -> str:
        return self.sock.version() or "" if isinstance(self.sock, ssl.SSLSocket) else ""

    def send(self, data: bytes) -> None:
        if self.script.segmentation == SPLIT:
            self.write_segment(data[:HEADER_BYTES])
            time.sleep(0.02)
            self.write_segment(data[HEADER_BYTES:])
        elif self.script.segmentation == BYTES:
            for i in range(len(data)):
                self.write_segment(data[i : i + 1])
                time.sleep(self.script.byte_delay_s)
        else:
            self.write_segment(data)

    def write_segment(self, data: bytes) -> None:
        """``data`` as it is, in one write (TCP_NODELAY: one segment if it fits). The
        time is taken before the write: were this process descheduled after it, the
        answer could arrive before a time taken after, and read as ~0 ms."""
        self.last_sent = time.monotonic()
        self.sock.sendall(data)

    def receive(self) -> tuple[int, bytes]:
        header = self._exactly(HEADER_BYTES)
        length = int.from_bytes(header[4:8], "big")
        return int.from_bytes(header[2:4], "big"), self._exactly(length)

    def receive_timed(self) -> tuple[int, bytes, float]:
        """The next message and ms from the last byte sent to its first byte."""
        self.first_received = 0.0
        payload_type, payload = self.receive()
        return payload_type, payload, (self.first_received - self.last_sent) * 1000.0

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError(f"SECC closed the connection ({len(data)} of {count})")
            if not self.first_received:
                self.first_received = time.monotonic()
            data += chunk
        return data

    def wait_closed(self, limit_s: float) -> float | None:
        """Seconds from the EV's last byte until the SECC closed, or None."""
        self.sock.settimeout(limit_s)
        try:
            while self.sock.recv(4096):
                pass
        except TimeoutError:
            return None
        except (ConnectionError, ssl.SSLError):
            pass
        return time.monotonic() - self.last_sent


def tls_context(script: Script) -> ssl.SSLContext:
    """TLS 1.2 (unilateral) for DIN and -2, TLS 1.3 presenting the OEM leaf for -20, each
    trusting the folder's V2G root (ISO 15118-2 §7.7.3, -20 §7.7.3)."""
    from pki.profiles import Role
    from pki.store import PkiStore
    from pki.tls import evcc_context

    assert script.tls_pki_dir is not None
    store = PkiStore(Path(script.tls_pki_dir))
    iso20 = script.session.startswith("iso20")
    return evcc_context(
        store.cert_path(Role.V2G_ROOT),
        tls13=iso20,
        chain_file=store.chain_path(Role.OEM_LEAF) if iso20 else None,
        key_file=store.key_path(Role.OEM_LEAF) if iso20 else None,
    )


def response_of(payload_type: int, payload: bytes, request: Request) -> tuple[str, dict[str, Any]]:
    """The name and body of the response to ``request``."""
    message = decode(payload, NS_OF_TYPE_20.get(payload_type, request.namespace))
    root = next(iter(message))
    if root == "V2G_Message":
        name = next(iter(message[root]["Body"]))
        return name, message[root]["Body"][name] | {"Header": message[root]["Header"]}
    return root, message[root]


def drive(script: Script) -> Outcome:
    """Run ``script`` against the SECC on its interface."""
    outcome = Outcome()
    requests = captured_session(script.session)
    tls = script.tls_pki_dir is not None
    address = discover(script.interface, tls)
    fuzz = random.Random(script.seed)
    for _ in range(script.junk_connections):
        junk = junk_first_message(fuzz)
        try:
            outcome.junk_refused += send_junk(address, junk)
        except (ConnectionRefusedError, Unseen):
            # Junk that began like a SAP frame became a session; the package closes
            # its TCP server when a session ends, and SDP opens the next one.
            address = discover(script.interface, tls)
            outcome.junk_refused += send_junk(address, junk)
    if script.junk_connections:
        address = discover(script.interface, tls)  # SDP waits out a session junk started
    wire = Wire(*address, script)
    outcome.tls = wire.tls
    try:
        _exchange(wire, requests, script, outcome, fuzz)
    except (ConnectionError, TimeoutError, OSError, ValueError) as error:
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.closed_after_s = wire.wait_closed(script.wait_close_s)
    wire.sock.close()
    return outcome


def _exchange(
    wire: Wire, requests: list[Request], script: Script, outcome: Outcome, fuzz: random.Random
) -> None:
    session_id: str | None = None  # the captured (zero) SessionID until SessionSetupRes
    requests = with_charge_loop_repeated(requests, script.charge_loop_repeats)
    index = repeats = 0
    while index < len(requests):
        if index == script.stall_at:
            wire.write_segment(requests[index].encoded(session_id)[: script.stall_after_bytes])
            outcome.responses.append(f"stalled in {requests[index].name}")
            return
        if index == script.noise_at:
            for _ in range(script.noise_frames):
                wire.write_segment(noise_frame(fuzz, _phase(requests, index)))
            outcome.noise_sent = script.noise_frames
        if index == script.bad_frame_at:
            wire.write_segment(bad_frame(fuzz, script.bad_frame, requests[index].payload_type()))
            outcome.responses.append(f"bad frame ({script.bad_frame}) at {requests[index].name}")
            return
        if index == script.wrong_type_at:
            data = requests[index].encoded(session_id)
            wrong = 0x8001 if requests[index].payload_type() != 0x8001 else 0x8002
            wire.send(frame(wrong, data[HEADER_BYTES:]))
        paired = (
            script.segmentation == COALESCED
            and index % 2 == 0
            and requests[index].name not in MAY_BE_ONGOING
        )
        batch = requests[index : index + (2 if paired else 1)]
        # The second of a pair is sent before the first is answered: it can only carry
        # the SessionID known now (so SessionSetupReq may follow SAP, not precede use).
        frames = [r.encoded(session_id) for r in batch]
        if len(frames) == 1:
            wire.send(frames[0])
        else:
            wire.write_segment(b"".join(frames))
        ongoing = False
        for position, request in enumerate(batch):
            payload_type, payload, wire_ms = wire.receive_timed()
            name, body = response_of(payload_type, payload, request)
            if position == 0:
                outcome.wire_ms.append((request.name, round(wire_ms, 3)))
            code = str(body.get("ResponseCode", ""))
            outcome.responses.append(f"{name} {code}")
            if not code.startswith("OK"):
                return
            ongoing = body.get("EVSEProcessing") == "Ongoing"
            if name == "SessionSetupRes":
                session_id = body["Header"]["SessionID"]
            if name == "SessionStopRes":
                outcome.completed = True
                return
        if ongoing:  # the SECC is still processing: the same request again
            repeats += 1
            if repeats > MAX_REPEATS:
                outcome.error = f"{batch[-1].name}: EVSEProcessing still Ongoing"
                return
            time.sleep(0.1)
            continue
        index += len(batch)
        if script.loop_pause_s and requests[index - 1].name in CHARGE_LOOP:
            time.sleep(script.loop_pause_s)


def with_charge_loop_repeated(requests: list[Request], repeats: int) -> list[Request]:
    """``requests`` with the first charge-loop request sent ``repeats`` times more."""
    first = next((i for i, r in enumerate(requests) if r.name in CHARGE_LOOP), None)
    if first is None or repeats <= 0:
        return requests
    return [*requests[: first + 1], *[requests[first]] * repeats, *requests[first + 1 :]]


def _phase(requests: list[Request], index: int) -> Phase:
    if index == 0:
        return Phase.HANDSHAKE
    namespace = requests[index].namespace
    if namespace.startswith("urn:iso:std:iso:15118:-20"):
        return Phase.ISO_20
    return Phase.DIN if namespace == DIN_NS else Phase.ISO_2


def junk_first_message(fuzz: random.Random) -> bytes:
    """Random bytes, or a SupportedAppProtocolReq frame whose header is mutated, as a
    connection's first message."""
    if fuzz.random() < 0.5:
        return fuzz.randbytes(fuzz.randint(1, 64))
    data = bytearray(frame(0x8001, fuzz.randbytes(fuzz.randint(2, 40))))
    for _ in range(fuzz.randint(1, 3)):
        position = fuzz.randrange(4)  # version, inverse or payload type
        data[position] ^= fuzz.randint(1, 255)
    return bytes(data)


class Unseen(ConnectionError):
    """The connection was reset before the SECC saw it: it was queued on a listener
    that closed (the package closes its TCP server when a session ends)."""


def send_junk(address: tuple[str, int], data: bytes) -> int:
    """1 when the SECC closed the connection without a byte in answer. The EV closes
    its sending side after the junk, so junk that happens to start like a frame ends
    as a connection closed mid-message. The SECC reads all junk before it closes, so
    it closes with a FIN; a reset means the junk never reached it (``Unseen``)."""
    with socket.create_connection(address, timeout=15) as junk:
        try:
            junk.sendall(data)
            junk.shutdown(socket.SHUT_WR)
        except (ConnectionResetError, BrokenPipeError) as reset:
            raise Unseen(str(reset)) from reset
        try:
            return int(junk.recv(64) == b"")
        except ConnectionResetError as reset:
            raise Unseen(str(reset)) from reset
        except ConnectionError:
            return 1


def noise_frame(fuzz: random.Random, phase: Phase) -> bytes:
    """A well-formed V2GTP frame of a random payload type ``phase`` does not know, with a
    random payload (sometimes empty) no longer than the phase's largest: the SECC must
    ignore it (-2 §7.8.3.2, -20 §7.8.3)."""
    known = phase.bounds()
    payload_type = next(t for t in iter(lambda: fuzz.randrange(0x10000), -1) if t not in known)
    length = 0 if fuzz.random() < 0.05 else fuzz.randint(1, min(512, phase.largest_bytes()))
    return Header(payload_type, length).encode() + fuzz.randbytes(length)


def bad_frame(fuzz: random.Random, kind: str, payload_type: int) -> bytes:
    """A frame after which the session cannot go on: ``version`` (not a V2GTP header:
    framing lost), ``over-bound`` (a payload longer than its type allows) or
    ``garbage-exi`` (a right header over random bytes that are no EXI message)."""
    if kind == "version":
        first = fuzz.choice([b for b in range(256) if b != 0x01])
        return bytes((first, fuzz.randrange(256))) + fuzz.randbytes(6 + fuzz.randint(0, 40))
    if kind == "over-bound":
        return Header(payload_type, 0x10_0000 + fuzz.randrange(2**31)).encode() + b"\x80" * 16
    body = fuzz.randbytes(fuzz.randint(1, 200))
    return frame(payload_type, body)


def main(argv: list[str]) -> int:
    script = Script(**json.loads(Path(argv[1]).read_text(encoding="utf-8")))
    print(json.dumps(asdict(drive(script))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
