"""Plug & Charge: signed messages, certificate chains and the fragments that ISO 15118
signs, byte for byte as the Java codec encodes them (``exi_pnc_vectors.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2g.exi import ExiEncodeError, decode, encode
from v2g.exi.schemas import is_fragment

DATA = Path(__file__).resolve().parent.parent / "data"
VECTORS = json.loads((DATA / "exi_pnc_vectors.json").read_text(encoding="utf-8"))["vectors"]


def _label(vector: dict) -> str:
    root = next(iter(vector["json"]))
    if root == "V2G_Message":
        root = "V2G_Message." + next(iter(vector["json"][root]["Body"]))
    return f"{vector['ns'].rsplit(':', 1)[-1]}:{root}"


@pytest.mark.parametrize("vector", VECTORS, ids=_label)
def test_signed_messages_and_fragments_encode_to_the_java_codecs_bytes(vector):
    assert encode(vector["json"], vector["ns"]).hex() == vector["hex"]


@pytest.mark.parametrize("vector", VECTORS, ids=_label)
def test_signed_messages_and_fragments_decode_back(vector):
    root = next(iter(vector["json"]))
    fragment = is_fragment(vector["ns"], root)
    assert decode(bytes.fromhex(vector["hex"]), vector["ns"], fragment=fragment) == vector["json"]


def test_vectors_cover_signature_headers_chains_and_every_signed_fragment_kind():
    roots = {next(iter(v["json"])) for v in VECTORS}
    assert {"SignedInfo", "AuthorizationReq", "CertificateInstallationReq"} <= roots
    assert {"ContractSignatureCertChain", "PnC_AReqAuthorizationMode"} <= roots
    assert any("Signature" in json.dumps(v["json"]) for v in VECTORS if "V2G_Message" in v["json"])


def test_an_emaid_fragment_uses_the_relaxed_fragment_grammar():
    # -2 declares eMAID with two types, so its fragment is encoded with EXI's relaxed
    # element fragment grammar; child elements are not supported there.
    assert any(next(iter(v["json"])) == "eMAID" for v in VECTORS)
    with pytest.raises(ExiEncodeError, match="unknown field"):
        encode({"eMAID": {"Id": "id5", "Child": 1}}, "urn:iso:15118:2:2013:MsgDef")


@pytest.mark.parametrize(
    ("message", "java_hex"),
    [
        # Bytes from the Java codec: empty simple content, with and without an attribute
        # before it (the second-level EE's code width differs between the two states).
        ({"DHpublickey": {"Id": "a", "value": ""}}, "802d01b0c7a0"),
        (
            {
                "V2G_Message": {
                    "Header": {
                        "SessionID": "",
                        "Signature": {
                            "SignedInfo": {
                                "CanonicalizationMethod": {"Algorithm": ""},
                                "SignatureMethod": {"Algorithm": "x"},
                                "Reference": [
                                    {"DigestMethod": {"Algorithm": ""}, "DigestValue": ""}
                                ],
                            },
                            "SignatureValue": {"Id": "x", "value": ""},
                        },
                    },
                    "Body": {"SessionStopReq": {"ChargingSession": "Terminate"}},
                }
            },
            "809842a0240378480250401bc443e000",
        ),
    ],
)
def test_empty_text_in_signed_parts_matches_the_java_codec(message, java_hex):
    namespace = "urn:iso:15118:2:2013:MsgDef"
    fragment = is_fragment(namespace, next(iter(message)))
    assert encode(message, namespace).hex() == java_hex
    assert decode(bytes.fromhex(java_hex), namespace, fragment=fragment) == message
