"""EXI codecs for the SECC and a recorder that times every answer.

iso15118 encodes and decodes through one process-wide ``IEXICodec``. The SECC uses
the product's native codec (``v2g.exi``, no JVM) by default and the package's Java
codec (EXIficient over py4j) when asked for ``java``; ``RecordingCodec`` wraps
whichever is in use and measures the SECC's response time per exchange: from the
moment its read loop holds the whole request to the moment the answer actually sent
for it was written to the socket, which is the part of the 25 ms budget the SECC's
process controls.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iso15118.shared.iexi_codec import IEXICodec

logger = logging.getLogger(__name__)

CODECS = ("java", "native")


class CodecUnavailable(RuntimeError):
    """The requested EXI codec cannot run here."""


def make_codec(name: str) -> IEXICodec:
    """The EXI codec called ``name``: ``native`` (v2g.exi, the default; no JVM) or
    ``java`` (iso15118's EXIficient over py4j; starts a JVM)."""
    if name == "native":
        from v2g.exi import NativeExiCodec

        return NativeExiCodec()
    if name == "java":
        from iso15118.shared.exificient_exi_codec import ExificientEXICodec

        return ExificientEXICodec()
    raise CodecUnavailable(f"unknown codec {name!r}; choose one of {', '.join(CODECS)}")


#: One small message per namespace the SECC speaks, in the iso15118 JSON shape. The
#: Java codec loads each schema's grammar on first use (0.15-2 s measured here), so
#: the SECC encodes these once at start-up instead of inside the EV's first timeout.
WARM_UP_MESSAGES: dict[str, str] = {
    "urn:iso:15118:2:2010:AppProtocol": json.dumps(
        {
            "supportedAppProtocolReq": {
                "AppProtocol": [
                    {
                        "ProtocolNamespace": "urn:iso:15118:2:2013:MsgDef",
                        "VersionNumberMajor": 2,
                        "VersionNumberMinor": 0,
                        "SchemaID": 1,
                        "Priority": 1,
                    }
                ]
            }
        }
    ),
    "urn:din:70121:2012:MsgDef": json.dumps(
        {
            "V2G_Message": {
                "Header": {"SessionID": "00"},
                "Body": {"SessionSetupReq": {"EVCCID": "0A0B0C0D0E0F"}},
            }
        }
    ),
    "urn:iso:15118:2:2013:MsgDef": json.dumps(
        {
            "V2G_Message": {
                "Header": {"SessionID": "00"},
                "Body": {"SessionSetupReq": {"EVCCID": "0A0B0C0D0E0F"}},
            }
        }
    ),
    "urn:iso:std:iso:15118:-20:CommonMessages": json.dumps(
        {
            "SessionSetupReq": {
                "Header": {"SessionID": "00", "TimeStamp": 0},
                "EVCCID": "WMIV1234567890ABCDEX",
            }
        }
    ),
    "urn:iso:std:iso:15118:-20:DC": json.dumps(
        {"DC_CableCheckReq": {"Header": {"SessionID": "00", "TimeStamp": 0}}}
    ),
    "urn:iso:std:iso:15118:-20:AC": json.dumps(
        {
            "AC_ChargeParameterDiscoveryReq": {
                "Header": {"SessionID": "00", "TimeStamp": 0},
                "AC_CPDReqEnergyTransferMode": {
                    "EVMaximumChargePower": {"Exponent": 0, "Value": 1},
                    "EVMinimumChargePower": {"Exponent": 0, "Value": 1},
                },
            }
        }
    ),
}


def warm_up(codec: IEXICodec) -> dict[str, float]:
    """Encode and decode one message per namespace; returns seconds per namespace.
    A namespace the codec rejects is logged and skipped: warming up is best effort.

    Then freezes the heap: everything built at start-up (iso15118's models, the EXI
    grammar tables) moves out of the garbage collector's reach. Otherwise the first
    full collection inside a session rescans it all: 127 ms measured, in the middle
    of an EV's SessionSetup, against a 25 ms answer budget."""
    spent: dict[str, float] = {}
    for namespace, message in WARM_UP_MESSAGES.items():
        started = time.perf_counter()
        try:
            codec.decode(codec.encode(message, namespace), namespace)
        except Exception as error:
            logger.warning("codec warm-up for %s failed: %s", namespace, error)
        spent[namespace] = time.perf_counter() - started
    gc.collect()
    gc.freeze()
    return spent


def message_name(message_json: str) -> tuple[str, dict[str, Any]]:
    """The message name and body of a message in the iso15118 JSON shape."""
    document = json.loads(message_json)
    if "V2G_Message" in document:  # DIN and -2 wrap every message in V2G_Message/Body
        body = document["V2G_Message"].get("Body", {})
        name = next(iter(body), "V2G_Message")
        return name, body.get(name, {})
    name = next(iter(document), "?")
    return name, document[name] if isinstance(document[name], dict) else {}


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request answered by the SECC: names, bodies and the time it took in ms."""

    request: str
    response: str
    response_ms: float
    #: When the request arrived (the read loop held all of it; without the read loop's
    #: timing, when decoding it began), on the process's perf_counter clock in s.
    started_s: float
    request_body: dict[str, Any] = field(repr=False)
    response_body: dict[str, Any] = field(repr=False)


ExchangeSink = Callable[[Exchange], None]


@dataclass(slots=True)
class _Pending:
    """The request a session is answering: when it arrived (perf_counter s), and its
    name and body once decoded; the last message encoded since (the response, once
    the state machine built it)."""

    arrived_s: float
    request: tuple[str, dict[str, Any]] | None = None
    response: tuple[str, dict[str, Any]] | None = None


class RecordingCodec(IEXICodec):
    """Delegates to a codec and reports each request and the response actually sent
    for it to ``sink``, timed from the request's arrival to the response's send.

    ``request_arrived`` and ``response_sent`` are called by the SECC's read loop
    (``iso15118_hooks.install_exchange_timing``): a whole request was read, and its
    answer was written to the socket. In between, the first message decoded is the
    request and the last one encoded is the response: other encodes (the parts of a
    Plug & Charge message encoded to check or make a signature) come before it. The
    steps of several EVSEs in one process interleave, so each session's exchange is
    kept per asyncio task (one task per communication session). Without those calls
    (no read loop, as in unit tests of the codec) an exchange is reported at the end
    of encoding the first response, timed from the start of decoding its request.
    """

    def __init__(self, inner: IEXICodec, sink: ExchangeSink) -> None:
        self._inner = inner
        self._sink = sink
        self._pending: dict[int, _Pending] = {}
        self._timed_by_read_loop = False

    @staticmethod
    def _task_key() -> int:
        try:
            return id(asyncio.current_task())
        except RuntimeError:
            return 0

    def request_arrived(self, arrived_s: float) -> None:
        """The read loop holds a whole request (``time.perf_counter()`` s)."""
        self._timed_by_read_loop = True
        self._pending[self._task_key()] = _Pending(arrived_s)

    def response_sent(self, sent_s: float) -> None:
        """The answer to the pending request was written to the socket."""
        pending = self._pending.pop(self._task_key(), None)
        if pending is not None:
            self._report(pending, sent_s)

    def decode(self, stream: bytes, namespace: str) -> str:
        started = time.perf_counter()
        decoded = self._inner.decode(stream, namespace)
        key = self._task_key()
        pending = self._pending.get(key)
        if pending is None and not self._timed_by_read_loop:
            pending = self._pending[key] = _Pending(started)
        if pending is not None and pending.request is None:
            pending.request = message_name(decoded)
        return decoded

    def encode(self, message: str, namespace: str) -> bytes:
        encoded = self._inner.encode(message, namespace)
        key = self._task_key()
        pending = self._pending.get(key)
        if pending is not None and pending.request is not None:
            pending.response = message_name(message)
            if not self._timed_by_read_loop:
                self._report(self._pending.pop(key), time.perf_counter())
        return encoded

    def _report(self, pending: _Pending, sent_s: float) -> None:
        if pending.request is None or pending.response is None:
            return
        (request, request_body), (response, response_body) = pending.request, pending.response
        self._sink(
            Exchange(
                request,
                response,
                (sent_s - pending.arrived_s) * 1000.0,
                pending.arrived_s,
                request_body,
                response_body,
            )
        )

    def get_version(self) -> str:
        return self._inner.get_version()


class CapturingCodec(IEXICodec):
    """Delegates to a codec and appends every call (namespace, JSON, EXI hex) to a
    JSON-lines file: the raw material of the EXI codec's conformance corpus."""

    def __init__(self, inner: IEXICodec, path: str) -> None:
        self._inner = inner
        self._path = path

    def _record(self, direction: str, namespace: str, message: str, stream: bytes) -> None:
        line = {"direction": direction, "ns": namespace, "json": message, "hex": stream.hex()}
        with open(self._path, "a", encoding="utf-8") as capture:
            capture.write(json.dumps(line) + "\n")

    def decode(self, stream: bytes, namespace: str) -> str:
        decoded = self._inner.decode(stream, namespace)
        self._record("decode", namespace, decoded, bytes(stream))
        return decoded

    def encode(self, message: str, namespace: str) -> bytes:
        encoded = self._inner.encode(message, namespace)
        self._record("encode", namespace, message, bytes(encoded))
        return encoded

    def get_version(self) -> str:
        return self._inner.get_version()
