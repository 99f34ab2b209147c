"""`v2g exi decode|encode`: JSON and hex on stdout, exit 2 with one line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SAP_REQ = "8000ebab9371d34b9b79d189a98989c1d191d191818999d26b9b3a232b30020000040040"
SAP_JSON = {
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


def v2g(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "v2g", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        input=stdin,
    )


def test_decode_prints_the_message_as_json():
    result = v2g("exi", "decode", "--ns", "urn:iso:15118:2:2010:AppProtocol", SAP_REQ)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == SAP_JSON


def test_encode_prints_lower_case_hex_and_reads_stdin():
    result = v2g("exi", "encode", "--ns", "sap", "-", stdin=json.dumps(SAP_JSON))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == SAP_REQ


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (("decode", "--ns", "sap", "80zz"), "not hex"),
        (("decode", "--ns", "sap", "8000eb"), "cannot decode"),
        (("decode", "--ns", "urn:nowhere", "80"), "unknown namespace"),
        (("encode", "--ns", "din", "{"), "not JSON"),
        (("encode", "--ns", "din", '{"V2G_Message": {"Header": {}}}'), "cannot encode"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, reason):
    result = v2g("exi", *argv)
    assert result.returncode == 2
    assert result.stdout == ""
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
