"""EXI codecs for the SECC and a recorder that times every answer.

iso15118 encodes and decodes through one process-wide ``IEXICodec``. The SECC uses
the product's native codec (``v2g.exi``, no JVM) by default and the package's Java
codec (EXIficient over py4j) when asked for ``java``; ``RecordingCodec`` wraps
whichever is in use and measures the SECC's response time per request: from the
start of decoding a request to the end of encoding its answer, which is the part of
the 25 ms budget the SECC controls.
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
    #: When decoding the request began, on the process's perf_counter clock in s.
    started_s: float
    request_body: dict[str, Any] = field(repr=False)
    response_body: dict[str, Any] = field(repr=False)


ExchangeSink = Callable[[Exchange], None]


class RecordingCodec(IEXICodec):
    """Delegates to a codec and reports each request/answer pair to ``sink``.

    The SECC decodes a request, awaits its state machine, then encodes the answer; with
    several EVSEs in one process those steps interleave, so pairs are matched per
    asyncio task (one task per communication session).
    """

    def __init__(self, inner: IEXICodec, sink: ExchangeSink) -> None:
        self._inner = inner
        self._sink = sink
        self._pending: dict[int, tuple[float, str, dict[str, Any]]] = {}

    @staticmethod
    def _task_key() -> int:
        try:
            return id(asyncio.current_task())
        except RuntimeError:
            return 0

    def decode(self, stream: bytes, namespace: str) -> str:
        started = time.perf_counter()
        decoded = self._inner.decode(stream, namespace)
        name, body = message_name(decoded)
        self._pending[self._task_key()] = (started, name, body)
        return decoded

    def encode(self, message: str, namespace: str) -> bytes:
        encoded = self._inner.encode(message, namespace)
        pending = self._pending.pop(self._task_key(), None)
        if pending is not None:
            started, request, request_body = pending
            response, response_body = message_name(message)
            self._sink(
                Exchange(
                    request,
                    response,
                    (time.perf_counter() - started) * 1000.0,
                    started,
                    request_body,
                    response_body,
                )
            )
        return encoded

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
