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
