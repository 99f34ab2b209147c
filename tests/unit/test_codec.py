"""The codec seam: choosing a codec, timing each answer, naming messages."""

import json

import pytest
from iso15118.shared.iexi_codec import IEXICodec

from v2g.secc.codec import CodecUnavailable, RecordingCodec, make_codec, message_name


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
