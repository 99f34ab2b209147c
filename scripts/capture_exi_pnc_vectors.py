"""Record the Java codec's bytes for Plug & Charge messages and signed fragments.

Loopback sessions here run with external payment, so they carry no signatures or
certificate chains. This script encodes representative PnC messages (-2 and -20, with
xmldsig Signature headers and certificate chains) and every fragment iso15118 signs
with the iso15118 package's Java codec and writes them, with its bytes, to
``tests/data/exi_pnc_vectors.json`` (needs a JDK):

    .venv/bin/python scripts/capture_exi_pnc_vectors.py
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from v2g.secc.codec import make_codec

ISO2 = "urn:iso:15118:2:2013:MsgDef"
ISO20 = "urn:iso:std:iso:15118:-20:CommonMessages"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "exi_pnc_vectors.json"

CERTIFICATE = base64.b64encode(bytes(range(256)) * 2).decode()
DIGEST = base64.b64encode(bytes(range(32))).decode()
SIGNATURE_VALUE = base64.b64encode(bytes(range(1, 73))).decode()
SIGNED_INFO = {
    "CanonicalizationMethod": {"Algorithm": "http://www.w3.org/TR/canonical-exi/"},
    "SignatureMethod": {"Algorithm": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"},
    "Reference": [
        {
            "URI": "#id1",
            "Transforms": {"Transform": [{"Algorithm": "http://www.w3.org/TR/canonical-exi/"}]},
            "DigestMethod": {"Algorithm": "http://www.w3.org/2001/04/xmlenc#sha256"},
            "DigestValue": DIGEST,
        }
    ],
}
SIGNATURE = {"SignedInfo": SIGNED_INFO, "SignatureValue": {"value": SIGNATURE_VALUE}}
HEADER_2 = {"SessionID": "0102030405060708", "Signature": SIGNATURE}
HEADER_20 = {"SessionID": "0102030405060708", "TimeStamp": 1700000000, "Signature": SIGNATURE}
CHAIN = {"Certificate": CERTIFICATE, "SubCertificates": {"Certificate": [CERTIFICATE, "AAEC"]}}

MESSAGES = [
    (DSIG, {"SignedInfo": SIGNED_INFO}),
    (ISO2, {"AuthorizationReq": {"Id": "id1", "GenChallenge": DIGEST[:24]}}),
    (
        ISO2,
        {
            "MeteringReceiptReq": {
                "Id": "id1",
                "SessionID": "0102030405060708",
                "SAScheduleTupleID": 1,
                "MeterInfo": {"MeterID": "M1", "MeterReading": 1000},
            }
        },
    ),
    (ISO2, {"ContractSignatureCertChain": {"Id": "id2", **CHAIN}}),
    (ISO2, {"DHpublickey": {"Id": "id3", "value": DIGEST}}),
    (ISO2, {"ContractSignatureEncryptedPrivateKey": {"Id": "id4", "value": DIGEST}}),
    (ISO2, {"eMAID": {"Id": "id5", "value": "DE1230000000001"}}),
    (
        ISO2,
        {
            "CertificateInstallationReq": {
                "Id": "id1",
                "OEMProvisioningCert": CERTIFICATE,
                "ListOfRootCertificateIDs": {
                    "RootCertificateID": [
                        {"X509IssuerName": "CN=V2G Root", "X509SerialNumber": 12345}
                    ]
                },
            }
        },
    ),
    (
        ISO20,
        {
            "PnC_AReqAuthorizationMode": {
                "Id": "id1",
                "GenChallenge": DIGEST[:24],
                "ContractCertificateChain": CHAIN,
            }
        },
    ),
    (ISO20, {"OEMProvisioningCertificateChain": {"Id": "id1", **CHAIN}}),
    (
        ISO2,
        {
            "V2G_Message": {
                "Header": HEADER_2,
                "Body": {"AuthorizationReq": {"Id": "id1", "GenChallenge": DIGEST[:24]}},
            }
        },
    ),
    (
        ISO2,
        {
            "V2G_Message": {
                "Header": {"SessionID": "0102030405060708"},
                "Body": {
                    "PaymentDetailsReq": {
                        "eMAID": "DE1230000000001",
                        "ContractSignatureCertChain": CHAIN,
                    }
                },
            }
        },
    ),
    (
        ISO2,
        {
            "V2G_Message": {
                "Header": HEADER_2,
                "Body": {
                    "CertificateInstallationRes": {
                        "ResponseCode": "OK",
                        "SAProvisioningCertificateChain": {"Certificate": CERTIFICATE},
                        "ContractSignatureCertChain": {"Id": "id1", **CHAIN},
                        "ContractSignatureEncryptedPrivateKey": {"Id": "id2", "value": DIGEST},
                        "DHpublickey": {"Id": "id3", "value": DIGEST},
                        "eMAID": {"Id": "id4", "value": "DE1230000000001"},
                    }
                },
            }
        },
    ),
    (
        ISO20,
        {
            "AuthorizationReq": {
                "Header": HEADER_20,
                "SelectedAuthorizationService": "PnC",
                "PnC_AReqAuthorizationMode": {
                    "Id": "id1",
                    "GenChallenge": DIGEST[:24],
                    "ContractCertificateChain": CHAIN,
                },
            }
        },
    ),
]


def main() -> int:
    java = make_codec("java")
    vectors = []
    for namespace, message in MESSAGES:
        stream = bytes(java.encode(json.dumps(message), namespace))
        vectors.append({"ns": namespace, "json": message, "hex": stream.hex()})
    about = (
        "Plug & Charge messages with xmldsig signatures and certificate chains, and the "
        "fragments ISO 15118 signs, as the iso15118 package's Java codec encodes them. "
        "Regenerate with scripts/capture_exi_pnc_vectors.py."
    )
    OUTPUT.write_text(json.dumps({"about": about, "vectors": vectors}, indent=1) + "\n")
    print(f"{len(vectors)} vectors -> {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
