"""Get15118EVCertificate answered by the pki-backed contract provider: an EV's signed
ISO 15118-2 CertificateInstallationReq (EXI, built with the iso15118 package as its
EVCC builds it) in, a CertificateInstallationRes out that the EV can use: the CPS
signature verifies (iso15118's own check), the contract chains to the MO root and
names the EMAID, and the EV's OEM key decrypts a private key that belongs to it."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from pki.profiles import Role
from pki.verify import verify_chain
from tests.ocpp.tls_files import OcppPki, make_pki
from v2g.ocpp.certificates import ev_certificate_answer
from v2g.ocpp.contract_provider import PkiContractProvider, _codec_ready
from v2g.testing import FakeClock

ISO2 = "urn:iso:15118:2:2013:MsgDef"
EMAID = "DE-V2G-C12345678-9"


@pytest.fixture(scope="module")
def mo(tmp_path_factory: pytest.TempPathFactory) -> OcppPki:
    return make_pki(tmp_path_factory.mktemp("mo"), ())


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> OcppPki:
    return make_pki(tmp_path_factory.mktemp("stranger"), ())


def installation_request(ev: OcppPki) -> bytes:
    """The EV's CertificateInstallationReq, signed with its OEM provisioning key."""
    _codec_ready()
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.messages.iso15118_2.body import Body, CertificateInstallationReq
    from iso15118.shared.messages.iso15118_2.datatypes import (
        RootCertificateIDList,
        X509IssuerSerial,
    )
    from iso15118.shared.messages.iso15118_2.header import MessageHeader
    from iso15118.shared.messages.iso15118_2.msgdef import V2GMessage
    from iso15118.shared.security import create_signature

    root = ev.store.certificate(Role.V2G_ROOT)
    request = CertificateInstallationReq(
        id="id1",
        oem_provisioning_cert=ev.store.certificate(Role.OEM_LEAF).public_bytes(Encoding.DER),
        list_of_root_cert_ids=RootCertificateIDList(
            x509_issuer_serials=[
                X509IssuerSerial(
                    x509_issuer_name=root.issuer.rfc4514_string(),
                    x509_serial_number=root.serial_number,
                )
            ]
        ),
    )
    oem_key = ev.store.credential(Role.OEM_LEAF, {}).key
    signature = create_signature(
        [(request.id, EXI().to_exi(request, Namespace.ISO_V2_MSG_DEF))], oem_key
    )
    message = V2GMessage(
        header=MessageHeader(session_id="0102030405060708", signature=signature),
        body=Body(certificate_installation_req=request),
    )
    return bytes(EXI().to_exi(message, Namespace.ISO_V2_MSG_DEF))


def provider(mo: OcppPki) -> PkiContractProvider:
    return PkiContractProvider(mo.store, EMAID, FakeClock(datetime.now(UTC)), {})


# iso15118's verify_signature reads the certificates' naive validity properties.
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_the_ev_gets_a_contract_it_can_verify_and_decrypt(mo: OcppPki) -> None:
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.security import decrypt_priv_key, verify_signature

    exi = asyncio.run(provider(mo).exi_response(ISO2, "Install", installation_request(mo)))
    message = EXI().from_exi(exi, Namespace.ISO_V2_MSG_DEF)
    assert message.header.session_id == "0102030405060708"
    answer = message.body.certificate_installation_res
    assert answer.response_code.name == "OK"
    store = mo.store

    def der(role: Role) -> bytes:
        return store.certificate(role).public_bytes(Encoding.DER)

    signed = [
        (element.id, EXI().to_exi(element, Namespace.ISO_V2_MSG_DEF))
        for element in (
            answer.contract_cert_chain,
            answer.encrypted_private_key,
            answer.dh_public_key,
            answer.emaid,
        )
    ]
    assert verify_signature(
        message.header.signature,
        signed,
        answer.cps_cert_chain.certificate,
        [der(Role.CPS_SUB_CA2), der(Role.CPS_SUB_CA1)],
        der(Role.V2G_ROOT),
    )
    contract = x509.load_der_x509_certificate(answer.contract_cert_chain.certificate)
    subs = [
        x509.load_der_x509_certificate(c)
        for c in answer.contract_cert_chain.sub_certificates.certificates
    ]
    verified = verify_chain(
        contract,
        subs,
        [store.certificate(Role.MO_ROOT)],
        datetime.now(UTC),
        role=Role.CONTRACT_LEAF,
    )
    assert verified.leaf_common_name == answer.emaid.value == "DEV2GC123456789"

    oem_key = store.credential(Role.OEM_LEAF, {}).key
    assert isinstance(oem_key, ec.EllipticCurvePrivateKey)
    mo_public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), answer.dh_public_key.value
    )
    secret = decrypt_priv_key(answer.encrypted_private_key.value, oem_key, mo_public)
    key = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1())
    assert key.public_key() == contract.public_key()


async def test_through_the_csms_answer_accepted_and_failed_with_the_reason(
    mo: OcppPki, stranger: OcppPki
) -> None:
    def request(exi: bytes, version: str = ISO2, action: str = "Install") -> dict[str, Any]:
        return {
            "iso15118SchemaVersion": version,
            "action": action,
            "exiRequest": base64.b64encode(exi).decode(),
        }

    ours = provider(mo)
    accepted = await ev_certificate_answer(ours, request(installation_request(mo)))
    assert (
        accepted["status"] == "Accepted" and len(base64.b64decode(accepted["exiResponse"])) > 1000
    )
    for bad, why in [
        (request(installation_request(stranger)), "bad signature"),  # another OEM PKI
        (request(b"\x80\x98\x02\x10not exi"), "cannot build the answer"),
        (request(installation_request(mo), action="Update"), "only ISO 15118-2 installation"),
    ]:
        answer = await ev_certificate_answer(ours, bad)
        assert answer["status"] == "Failed" and answer["exiResponse"] == ""
        assert why in answer["statusInfo"]["additionalInfo"], answer


def test_an_unreadable_pki_is_reported_not_raised(tmp_path: Path) -> None:
    from pki.store import PkiStore

    empty = PkiContractProvider(PkiStore(tmp_path), EMAID, FakeClock(datetime.now(UTC)), {})
    with pytest.raises(Exception) as raised:
        asyncio.run(empty.exi_response(ISO2, "Install", b"\x80"))
    assert type(raised.value).__name__ == "ContractUnavailable"


async def test_a_site_with_contract_provider_pki_answers_over_the_wire(mo: OcppPki) -> None:
    """``[ocpp] contract_provider_pki`` / ``contract_provider_emaid``, through the CSMS
    handler, the schema checked both ways."""
    import json

    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer

    from v2g.ocpp import schemas
    from v2g.ocpp.config import OcppSiteConfig
    from v2g.ocpp.csms import Csms
    from v2g.ocpp.frames import OcppVersion
    from v2g.testing.stations import StaticCredentials

    config = OcppSiteConfig(
        "127.0.0.1", 0, contract_provider_pki=mo.store.root, contract_provider_emaid=EMAID
    )
    csms = Csms(
        config,
        StaticCredentials({"CS-1": "secret-1"}),
        lambda e: None,
        FakeClock(datetime.now(UTC)),
    )
    app = web.Application()
    app.router.add_get("/ocpp/{station_id}", csms.handle)
    server = TestServer(app)
    await server.start_server()
    payload = {
        "iso15118SchemaVersion": ISO2,
        "action": "Install",
        "exiRequest": base64.b64encode(installation_request(mo)).decode(),
    }
    try:
        async with (
            ClientSession() as session,
            session.ws_connect(
                server.make_url("/ocpp/CS-1"),
                protocols=("ocpp2.0.1",),
                headers={"Authorization": "Basic " + base64.b64encode(b"CS-1:secret-1").decode()},
            ) as socket,
        ):
            await socket.send_str(json.dumps([2, "g-1", "Get15118EVCertificate", payload]))
            answer = json.loads(await socket.receive_str(timeout=10))
    finally:
        await csms.close()
        await server.close()
    assert answer[0] == 3 and answer[2]["status"] == "Accepted", answer
    schemas.check(OcppVersion.V201, "Get15118EVCertificate", "Response", answer[2])


def test_the_contract_provider_keys_come_together() -> None:
    from v2g.ocpp.config import parse_ocpp_site

    _, problems = parse_ocpp_site({"ocpp": {"contract_provider_pki": "pki"}})
    assert any("both" in p for p in problems)
    _, problems = parse_ocpp_site(
        {"ocpp": {"contract_provider_pki": "pki", "contract_provider_emaid": "not an emaid"}}
    )
    assert any("contract_provider_emaid" in p for p in problems)
