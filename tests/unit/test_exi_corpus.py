"""The native EXI codec against the Java codec's own output, without a JVM.

``tests/data/exi_corpus.json`` holds every distinct message of full loopback sessions
in every protocol, as the iso15118 package's Java codec encoded or decoded it
(``scripts/capture_exi_corpus.py``); ``exi_libiso15118_vectors.json`` holds EVerest
libiso15118's test vectors decoded by the same Java codec.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2g.exi import NativeExiCodec, decode, encode

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS = json.loads((DATA / "exi_corpus.json").read_text(encoding="utf-8"))["messages"]
VECTORS = json.loads((DATA / "exi_libiso15118_vectors.json").read_text(encoding="utf-8"))[
    "vectors"
]
PROTOCOL_SESSIONS = {
    "din-dc/dynamic",
    "iso2-ac/dynamic",
    "iso2-dc/dynamic",
    "iso20-ac/dynamic",
    "iso20-dc/dynamic",
    "iso20-ac-bpt/dynamic",
    "iso20-dc-bpt/dynamic",
}


def _label(message: dict) -> str:
    return f"{message['session']}:{message['direction']}:{next(iter(message['json']))}"


def test_corpus_covers_every_protocol_and_both_directions():
    sessions = {m["session"] for m in CORPUS}
    assert sessions >= PROTOCOL_SESSIONS
    for session in PROTOCOL_SESSIONS:
        directions = {m["direction"] for m in CORPUS if m["session"] == session}
        assert directions == {"encode", "decode"}, session


@pytest.mark.parametrize("message", CORPUS, ids=_label)
def test_encoding_is_byte_identical_to_the_java_codec(message):
    assert encode(message["json"], message["ns"]).hex() == message["hex"]


@pytest.mark.parametrize("message", CORPUS, ids=_label)
def test_decoding_is_identical_to_the_java_codec(message):
    assert decode(bytes.fromhex(message["hex"]), message["ns"]) == message["json"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["source"])
def test_libiso15118_vectors_decode_to_their_json_and_re_encode_to_their_bytes(vector):
    stream = bytes.fromhex(vector["hex"])
    assert decode(stream, vector["ns"]) == vector["json"]
    assert encode(vector["json"], vector["ns"]) == stream


def test_the_codec_seam_speaks_json_text_both_ways():
    codec = NativeExiCodec()
    message = CORPUS[0]
    text = codec.decode(bytes.fromhex(message["hex"]), message["ns"])
    assert json.loads(text) == message["json"]
    assert codec.encode(text, message["ns"]).hex() == message["hex"]
    assert "EXI" in codec.get_version()


def test_empty_text_ends_the_element_with_a_second_level_end_as_the_java_codec_does():
    # Bytes from the Java codec: an empty hexBinary has no CH event at all.
    message = {"DC_CableCheckReq": {"Header": {"SessionID": "", "TimeStamp": 0}}}
    stream = bytes.fromhex("802c800080")
    assert encode(message, "urn:iso:std:iso:15118:-20:DC") == stream
    assert decode(stream, "urn:iso:std:iso:15118:-20:DC") == message
