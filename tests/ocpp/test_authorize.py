"""Authorize (OCPP 2.0.1 C01 idTokens, C07 ISO 15118 contract certificates) and
Get15118EVCertificate (M02) at the CSMS: the pure checks against a test PKI of the
project's ``pki``, then both actions over a real WebSocket, schema-checked both ways."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from pki.issue import Credential
from pki.keys import signature_hash
from pki.profiles import PROFILES, Role
from pki.testpki import TestPki, build_test_pki
from v2g.ocpp import schemas
from v2g.ocpp.authorize import (
    AllowList,
    Authorization,
    ContractTrust,
    IdToken,
    check_contract_chain,
    check_hash_data,
)
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms
from v2g.ocpp.frames import OcppVersion
from v2g.testing import FakeClock
from v2g.testing.authorizers import FixedAuthorizer, FixedContractProvider
from v2g.testing.stations import StaticCredentials

NOW = datetime.now(UTC)
EMAID = "DE-V2G-C12345678-9"
NORMAL_EMAID = "DEV2GC123456789"


@pytest.fixture(scope="module")
def mo() -> TestPki:
    return build_test_pki(PROFILES["iso2"], NOW, emaid=EMAID)


@pytest.fixture(scope="module")
def other_mo() -> TestPki:
    return build_test_pki(PROFILES["iso2"], NOW, emaid=EMAID)


def pem(*credentials: Credential) -> str:
    return "".join(c.certificate.public_bytes(Encoding.PEM).decode() for c in credentials)


def chain_of(pki: TestPki) -> str:
    return pem(pki[Role.CONTRACT_LEAF], pki[Role.MO_SUB_CA2], pki[Role.MO_SUB_CA1])


def trust_of(pki: TestPki, crls: tuple[x509.CertificateRevocationList, ...] = ()) -> ContractTrust:
    cas = tuple(pki[r].certificate for r in (Role.MO_ROOT, Role.MO_SUB_CA1, Role.MO_SUB_CA2))
    return ContractTrust((pki[Role.MO_ROOT].certificate,), cas, crls)


def crl_revoking(pki: TestPki) -> x509.CertificateRevocationList:
    issuer = pki[Role.MO_SUB_CA2]
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(pki[Role.CONTRACT_LEAF].certificate.serial_number)
        .revocation_date(NOW - timedelta(hours=1))
        .build()
    )
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_revoked_certificate(revoked)
        .sign(issuer.key, signature_hash("secp256r1"))  # type: ignore[arg-type]
    )


def hash_data(pki: TestPki) -> list[dict[str, str]]:
    """The contract's OCSPRequestDataType, computed by cryptography's OCSP builder (an
    implementation independent of ours)."""
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(
            pki[Role.CONTRACT_LEAF].certificate, pki[Role.MO_SUB_CA2].certificate, hashes.SHA256()
        )
        .build()
    )
    return [
        {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": request.issuer_name_hash.hex(),
            "issuerKeyHash": request.issuer_key_hash.hex(),
            "serialNumber": f"{request.serial_number:x}",
            "responderURL": "http://ocsp.mo.example",
        }
    ]


EMAID_TOKEN = IdToken(EMAID, "eMAID")


# -- the contract checks -----------------------------------------------------------


def test_a_valid_contract_chain_naming_the_idtoken_is_accepted(mo: TestPki) -> None:
    verdict = check_contract_chain(chain_of(mo), EMAID_TOKEN, trust_of(mo), NOW)
    assert (verdict.status, verdict.certificate_status) == ("Accepted", "Accepted")
    normalised = check_contract_chain(
        chain_of(mo), IdToken(NORMAL_EMAID, "eMAID"), trust_of(mo), NOW
    )
    assert normalised.status == "Accepted"


@pytest.mark.parametrize(
    ("case", "status", "certificate_status"),
    [
        ("expired", "Expired", "CertificateExpired"),
        ("revoked", "Blocked", "CertificateRevoked"),
        ("another MO root", "Invalid", "CertChainError"),
        ("another EMAID", "Invalid", "CertChainError"),
        ("not PEM", "Invalid", "CertChainError"),
        ("leaf only", "Invalid", "CertChainError"),
    ],
)
def test_a_contract_that_does_not_verify_gets_its_status(
    case: str, status: str, certificate_status: str, mo: TestPki, other_mo: TestPki
) -> None:
    """C07: idTokenInfo.status and certificateStatus from the pki chain checks."""
    chain, token, trust, at = chain_of(mo), EMAID_TOKEN, trust_of(mo), NOW
    if case == "expired":
        at = NOW + timedelta(days=3 * 365)
    elif case == "revoked":
        trust = trust_of(mo, (crl_revoking(mo),))
    elif case == "another MO root":
        trust = trust_of(other_mo)
    elif case == "another EMAID":
        token = IdToken("DE-V2G-C87654321-0", "eMAID")
    elif case == "not PEM":
        chain = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    else:
        chain = pem(mo[Role.CONTRACT_LEAF])
    verdict = check_contract_chain(chain, token, trust, at)
    assert (verdict.status, verdict.certificate_status) == (status, certificate_status)
    assert verdict.reason


def test_hash_data_of_a_known_issuer_is_accepted_unless_its_crl_revokes_the_serial(
    mo: TestPki, other_mo: TestPki
) -> None:
    """C07.FR.06 (the CSMS checks the revocation status the station asks for)."""
    assert check_hash_data(hash_data(mo), trust_of(mo)).status == "Accepted"
    revoked = check_hash_data(hash_data(mo), trust_of(mo, (crl_revoking(mo),)))
    assert (revoked.status, revoked.certificate_status) == ("Blocked", "CertificateRevoked")
    stranger = check_hash_data(hash_data(other_mo), trust_of(mo))
    assert (stranger.status, stranger.certificate_status) == ("Invalid", "CertChainError")


async def test_the_authorizer_decides_for_tokens_and_may_block_a_verified_contract(
    mo: TestPki,
) -> None:
    allow = Authorization(AllowList(["rfid-1"]), trust_of(mo))
    rfid = {"idToken": {"idToken": "RFID-1", "type": "ISO14443"}}
    assert (await allow.answer(rfid, NOW)).payload() == {"idTokenInfo": {"status": "Accepted"}}
    stranger = {"idToken": {"idToken": "RFID-2", "type": "ISO14443"}}
    assert (await allow.answer(stranger, NOW)).status == "Unknown"
    contract = {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": chain_of(mo)}
    assert (await allow.answer(contract, NOW)).payload() == {
        "idTokenInfo": {"status": "Accepted"},
        "certificateStatus": "Accepted",
    }
    blocked = Authorization(FixedAuthorizer({EMAID: "Blocked"}), trust_of(mo))
    assert (await blocked.answer(contract, NOW)).status == "Blocked"


# -- over the wire -----------------------------------------------------------------


class Wire:
    def __init__(self, mo: TestPki, tmp: Any, provider: FixedContractProvider | None) -> None:
        root = tmp / "mo-root.pem"
        root.write_text(pem(mo[Role.MO_ROOT], mo[Role.MO_SUB_CA2], mo[Role.MO_SUB_CA1]))
        config = OcppSiteConfig("127.0.0.1", 0, id_tokens=("RFID-1",), contract_roots=(root,))
        self.csms = Csms(
            config,
            StaticCredentials({"CS-1": "secret-1"}),
            lambda event: None,
            FakeClock(NOW),
            certificates=provider,
        )
        app = web.Application()
        app.router.add_get("/ocpp/{station_id}", self.csms.handle)
        self.server = TestServer(app)
        self.calls = 0

    async def call(
        self, session: ClientSession, version: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        auth = base64.b64encode(b"CS-1:secret-1").decode()
        async with session.ws_connect(
            self.server.make_url("/ocpp/CS-1"),
            protocols=(version,),
            headers={"Authorization": f"Basic {auth}"},
        ) as socket:
            self.calls += 1
            await socket.send_str(json.dumps([2, f"m-{self.calls}", action, payload]))
            answer = json.loads(await socket.receive_str(timeout=5))
        assert answer[0] == 3, answer
        schemas.check(OcppVersion(version), action, "Response", answer[2])
        return dict(answer[2])


@pytest.fixture
async def wire(mo: TestPki, tmp_path: Any) -> AsyncIterator[tuple[Wire, ClientSession]]:
    made = Wire(mo, tmp_path, FixedContractProvider(b"\x80\x98certificate installation res"))
    await made.server.start_server()
    async with ClientSession() as session:
        yield made, session
    await made.csms.close()
    await made.server.close()


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_authorize_over_the_wire(
    version: str, wire: tuple[Wire, ClientSession], mo: TestPki
) -> None:
    site, session = wire
    rfid = {"idToken": {"idToken": "RFID-1", "type": "ISO14443"}}
    assert (await site.call(session, version, "Authorize", rfid))["idTokenInfo"] == {
        "status": "Accepted"
    }
    contract = {"idToken": {"idToken": EMAID, "type": "eMAID"}, "certificate": chain_of(mo)}
    answer = await site.call(session, version, "Authorize", contract)
    assert answer == {"idTokenInfo": {"status": "Accepted"}, "certificateStatus": "Accepted"}
    hashed = {
        "idToken": {"idToken": EMAID, "type": "eMAID"},
        "iso15118CertificateHashData": hash_data(mo),
    }
    assert (await site.call(session, version, "Authorize", hashed))["certificateStatus"] == (
        "Accepted"
    )


async def test_get_15118_ev_certificate_forwards_the_exi_both_ways(
    wire: tuple[Wire, ClientSession],
) -> None:
    site, session = wire
    request = {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": base64.b64encode(b"\x80\x98certificate installation req").decode(),
    }
    answer = await site.call(session, "ocpp2.0.1", "Get15118EVCertificate", request)
    assert answer["status"] == "Accepted"
    assert base64.b64decode(answer["exiResponse"]) == b"\x80\x98certificate installation res"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"exiRequest": "not base64!"}, "InvalidValue"),
        ({"iso15118SchemaVersion": "urn:iso:15118:9"}, "InvalidSchemaVersion"),
    ],
)
async def test_a_bad_get_15118_ev_certificate_is_answered_failed_with_the_reason(
    change: dict[str, str], reason: str, wire: tuple[Wire, ClientSession]
) -> None:
    site, session = wire
    request = {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": base64.b64encode(b"exi").decode(),
        **change,
    }
    answer = await site.call(session, "ocpp2.1", "Get15118EVCertificate", request)
    assert answer["status"] == "Failed" and answer["statusInfo"]["reasonCode"] == reason


async def test_without_a_contract_provider_get_15118_ev_certificate_fails_with_the_reason(
    mo: TestPki, tmp_path: Any
) -> None:
    site = Wire(mo, tmp_path, None)
    await site.server.start_server()
    try:
        async with ClientSession() as session:
            request = {
                "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                "action": "Install",
                "exiRequest": base64.b64encode(b"exi").decode(),
            }
            answer = await site.call(session, "ocpp2.1", "Get15118EVCertificate", request)
    finally:
        await site.csms.close()
        await site.server.close()
    assert answer["status"] == "Failed"
    assert answer["statusInfo"]["reasonCode"] == "NoCertAvailable"
