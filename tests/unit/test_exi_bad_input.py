"""Bad EXI input: truncated, random and bit-flipped streams raise ``ExiDecodeError``
(and nothing else), quickly, whatever the bytes."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.properties import examples
from v2g.exi import NAMESPACES, ExiDecodeError, ExiEncodeError, NativeExiCodec, decode, encode

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS = json.loads((DATA / "exi_corpus.json").read_text(encoding="utf-8"))["messages"]
#: One charge-loop-sized and one large message per namespace seen in sessions.
SAMPLES = {m["ns"]: m for m in sorted(CORPUS, key=lambda m: len(m["hex"]))}
#: Generous: a decode costs microseconds per byte; this only catches hangs (the
#: machine running the tests may be shared and descheduling us for a while).
SECONDS_PER_BYTE = 0.002
HANG_S = 1.0


@pytest.fixture(autouse=True, scope="module")
def _compiled_grammars():
    """Compile every grammar first: the one-off cost is not a per-byte cost."""
    NativeExiCodec.warm()


def _decode_or_reject(stream: bytes, namespace: str) -> None:
    started = time.perf_counter()
    with contextlib.suppress(ExiDecodeError):
        decode(stream, namespace)
    with contextlib.suppress(ExiDecodeError):
        decode(stream, namespace, fragment=True)
    assert time.perf_counter() - started < HANG_S + SECONDS_PER_BYTE * len(stream)


@pytest.mark.parametrize("message", list(SAMPLES.values()), ids=lambda m: m["ns"])
def test_every_truncation_is_rejected_with_the_decode_error(message):
    stream = bytes.fromhex(message["hex"])
    for length in range(len(stream)):
        with pytest.raises(ExiDecodeError):
            decode(stream[:length], message["ns"])


@pytest.mark.parametrize("message", list(SAMPLES.values()), ids=lambda m: m["ns"])
def test_every_single_bit_flip_decodes_or_raises_the_decode_error(message):
    stream = bytearray.fromhex(message["hex"])
    for bit in range(len(stream) * 8):
        flipped = bytearray(stream)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        _decode_or_reject(bytes(flipped), message["ns"])


@settings(max_examples=examples(3000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespace=st.sampled_from(NAMESPACES), body=st.binary(max_size=300))
def test_random_streams_decode_or_raise_the_decode_error(namespace, body):
    _decode_or_reject(b"\x80" + body, namespace)
    _decode_or_reject(body, namespace)


def test_a_string_longer_than_the_stream_is_rejected_before_reading_it():
    # SAP request, first ProtocolNamespace announced with 2**28 characters.
    stream = bytes.fromhex("8000") + bytes([0xFF, 0xFF, 0xFF, 0x7F])
    with pytest.raises(ExiDecodeError, match="ends inside"):
        decode(stream, "urn:iso:15118:2:2010:AppProtocol")


def test_unknown_namespace_is_a_decode_error_and_an_encode_error():
    with pytest.raises(ExiDecodeError, match="unknown namespace"):
        decode(b"\x80\x00", "urn:nowhere")
    with pytest.raises(ExiEncodeError, match="unknown namespace"):
        encode({"a": {}}, "urn:nowhere")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"supportedAppProtocolRes": {"ResponseCode": "Maybe", "SchemaID": 1}}, "enumerated"),
        (
            {
                "supportedAppProtocolRes": {
                    "ResponseCode": "OK_SuccessfulNegotiation",
                    "SchemaID": 256,
                }
            },
            "outside",
        ),
        ({"supportedAppProtocolRes": {"SchemaID": 1}}, "not allowed here"),
        (
            {"supportedAppProtocolRes": {"ResponseCode": "Failed_NoNegotiation", "Extra": 1}},
            "unknown field",
        ),
        ({"supportedAppProtocolReq": {}}, "incomplete"),
        ({"nothing": {}}, "not a root element"),
    ],
)
def test_messages_that_do_not_fit_the_schema_raise_the_encode_error(message, reason):
    with pytest.raises(ExiEncodeError, match=reason):
        encode(message, "urn:iso:15118:2:2010:AppProtocol")


def test_the_seam_rejects_text_that_is_not_json():
    with pytest.raises(ExiEncodeError, match="not JSON"):
        NativeExiCodec().encode("{", "urn:iso:15118:2:2010:AppProtocol")


def test_a_long_message_costs_time_linear_in_its_length():
    # 2,000 signature references: a 55 kB header. Without moving consumed bits out of
    # the working integer, every read would cost the whole stream (quadratic time).
    namespace = "urn:iso:15118:2:2013:MsgDef"
    reference = {"URI": "#id1", "DigestMethod": {"Algorithm": "sha"}, "DigestValue": "AAEC"}
    signed_info = {
        "CanonicalizationMethod": {"Algorithm": "c"},
        "SignatureMethod": {"Algorithm": "s"},
        "Reference": [reference] * 2000,
    }
    message = {
        "V2G_Message": {
            "Header": {
                "SessionID": "01",
                "Signature": {"SignedInfo": signed_info, "SignatureValue": {"value": "AAEC"}},
            },
            "Body": {"SessionStopReq": {"ChargingSession": "Terminate"}},
        }
    }
    started = time.perf_counter()
    stream = encode(message, namespace)
    assert decode(stream, namespace) == message
    assert time.perf_counter() - started < HANG_S + SECONDS_PER_BYTE * len(stream)
