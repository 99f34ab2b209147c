"""The codec seam: choosing a codec, timing each answer, naming messages."""

import json

import pytest
from iso15118.shared.iexi_codec import IEXICodec

from v2g.secc.codec import (
    WARM_UP_MESSAGES,
    CodecUnavailable,
    RecordingCodec,
    make_codec,
    message_name,
)


class EchoCodec(IEXICodec):
    """A stand-in codec whose 'EXI' is the UTF-8 of the JSON."""

    def encode(self, message: str, namespace: str) -> bytes:
        return message.encode()

    def decode(self, stream: bytes, namespace: str) -> str:
        return stream.decode()

    def get_version(self) -> str:
        return "echo"


def test_native_codec_is_the_package_codec_and_unknown_names_are_refused():
    from v2g.exi import NativeExiCodec

    assert isinstance(make_codec("native"), NativeExiCodec)
    with pytest.raises(CodecUnavailable, match="unknown codec"):
        make_codec("morse")


def test_message_names_in_every_protocols_json_shape():
    din = {"V2G_Message": {"Header": {}, "Body": {"CurrentDemandReq": {"A": 1}}}}
    assert message_name(json.dumps(din)) == ("CurrentDemandReq", {"A": 1})
    assert message_name(json.dumps({"DC_ChargeLoopReq": {"B": 2}})) == (
        "DC_ChargeLoopReq",
        {"B": 2},
    )


def test_recorder_pairs_each_request_with_its_answer():
    exchanges = []
    codec = RecordingCodec(EchoCodec(), exchanges.append)
    request = json.dumps({"SessionSetupReq": {"EVCCID": "X"}})
    response = json.dumps({"SessionSetupRes": {"ResponseCode": "OK"}})
    codec.decode(request.encode(), "ns")
    codec.encode(response, "ns")
    codec.encode(response, "ns")  # an encode without a request is not an answer
    assert [(e.request, e.response) for e in exchanges] == [("SessionSetupReq", "SessionSetupRes")]
    assert exchanges[0].response_ms >= 0


def test_recorder_times_from_arrival_to_send_and_pairs_the_response_actually_sent():
    """Issue 21: Plug & Charge encodes parts of a request to check its signature; the
    recorder paired the request with that part (AuthorizationReq -> AuthorizationReq
    in 2.1 ms against 7-10 ms on the wire). Now the response is the last message
    encoded before the send, and the time runs from the request's arrival."""
    exchanges = []
    codec = RecordingCodec(EchoCodec(), exchanges.append)
    request = json.dumps({"AuthorizationReq": {"Id": "ID1"}})
    part = json.dumps({"AuthorizationReq": {"Id": "ID1"}})
    response = json.dumps({"AuthorizationRes": {"ResponseCode": "OK"}})
    codec.request_arrived(100.0)
    codec.decode(request.encode(), "ns")
    codec.encode(part, "ns")  # the signed part, encoded to check the signature
    codec.encode(response, "ns")
    assert exchanges == []  # nothing is reported before the answer is sent
    codec.response_sent(100.0123)
    assert [(e.request, e.response) for e in exchanges] == [
        ("AuthorizationReq", "AuthorizationRes")
    ]
    assert exchanges[0].response_ms == pytest.approx(12.3)
    assert exchanges[0].started_s == 100.0


def test_a_request_never_answered_is_replaced_by_the_next():
    exchanges = []
    codec = RecordingCodec(EchoCodec(), exchanges.append)
    codec.request_arrived(1.0)
    codec.decode(json.dumps({"CurrentDemandReq": {}}).encode(), "ns")
    codec.request_arrived(2.0)
    codec.decode(json.dumps({"PowerDeliveryReq": {}}).encode(), "ns")
    codec.encode(json.dumps({"PowerDeliveryRes": {}}), "ns")
    codec.response_sent(2.001)
    assert [(e.request, e.response) for e in exchanges] == [
        ("PowerDeliveryReq", "PowerDeliveryRes")
    ]


def test_the_native_codec_warms_up_every_namespace_without_a_jvm():
    import subprocess
    import sys

    program = (
        "import sys\n"
        "from v2g.secc.codec import make_codec, warm_up\n"
        "spent = warm_up(make_codec('native'))\n"
        "assert 'py4j' not in sys.modules, 'py4j imported'\n"
        "print(len(spent))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "warm-up" not in result.stderr
    assert int(result.stdout) == len(WARM_UP_MESSAGES)


def test_the_native_codec_compiles_each_grammar_once_for_iso15118s_namespace_enum():
    from iso15118.shared.messages.enums import Namespace

    from v2g.exi import NativeExiCodec
    from v2g.exi.schemas import grammar_table

    codec = NativeExiCodec()
    message = WARM_UP_MESSAGES[Namespace.ISO_V20_COMMON_MSG.value]
    stream = codec.encode(message, Namespace.ISO_V20_COMMON_MSG.value)
    before = grammar_table.cache_info().currsize
    assert codec.encode(message, Namespace.ISO_V20_COMMON_MSG) == stream
    codec.decode(stream, Namespace.ISO_V20_COMMON_MSG)
    assert grammar_table.cache_info().currsize == before
