"""Plug & Charge at the SECC edge: full chain checks, honest service offers, setup."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from iso15118.shared.messages.enums import AuthEnum, AuthorizationStatus, Protocol
from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode as ResponseCodeV2

from pki.profiles import PROFILES, Role
from pki.signature import SUITES, sign_raw, verify_raw
from pki.store import PkiStore
from pki.testpki import build_test_pki, reissue_leaf
from pki.verify import Failure
from tests.unit.secc_helpers import dc_bpt_evse
from v2g.secc.config import ConfigError, SeccConfig
from v2g.secc.controller import EvseController
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.iso15118_hooks import _honest_authorization_setup
from v2g.secc.mailbox import SetpointMailbox
from v2g.secc.plug_and_charge import (
    PlugAndCharge,
    package_pki_path,
    remove_package_pki_path,
    response_code_v2,
    response_code_v20,
)
from v2g.secc.station import Station, iso15118_config
from v2g.testing import FakeClock

NOW = datetime.now(UTC)


def write(folder: Path, profile: str = "iso2", evse_id: str = "DE*V2G*E0001") -> PkiStore:
    store = PkiStore(folder)
    store.write_manifest(profile, None)
    for role, credential in build_test_pki(PROFILES[profile], NOW, evse_id=evse_id).items():
        store.write_credential(role, credential, None)
    store.write_bundles()
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> PkiStore:
    return write(tmp_path_factory.mktemp("pki"))


def pnc(store: PkiStore, at: datetime = NOW) -> PlugAndCharge:
    return PlugAndCharge(store, FakeClock(at), {}, tls12=True, tls13=True)


def pem_chain(store: PkiStore, *roles: Role) -> bytes:
    return b"".join(store.cert_path(r).read_bytes() for r in roles)


CONTRACT = (Role.CONTRACT_LEAF, Role.MO_SUB_CA2, Role.MO_SUB_CA1)


def test_contract_chain_as_iso15118_hands_it_over_verifies_with_its_emaid(store):
    verdict = pnc(store).check_contract_pem(pem_chain(store, *CONTRACT, Role.MO_ROOT))
    assert verdict.accepted
    assert verdict.emaid == "DEV2GC000000001"  # the profile's default EMAID


def test_contract_chain_is_checked_at_the_clocks_time(store):
    verdict = pnc(store, NOW + timedelta(days=800)).check_contract_pem(pem_chain(store, *CONTRACT))
    assert verdict.failure is Failure.EXPIRED


def test_secc_certificate_is_refused_as_a_contract(store):
    chain = pem_chain(store, Role.SECC_LEAF, Role.CPO_SUB_CA2, Role.CPO_SUB_CA1)
    assert pnc(store).check_contract_pem(chain).failure is Failure.KEY_USAGE


def test_garbage_instead_of_a_chain_is_refused_not_raised(store):
    assert pnc(store).check_contract_pem(b"\x30\x82").failure is Failure.EMPTY


async def test_controller_rejects_a_bad_chain_with_the_iso15118_2_code(store, clock, monotonic):
    check = pnc(store, NOW + timedelta(days=800)).check_contract_pem
    controller = EvseController(
        dc_bpt_evse(), SetpointMailbox(), SessionEventBus(), clock, contract_check=check
    )
    controller.set_selected_protocol(Protocol.ISO_15118_2)
    response = await controller.is_authorized(certificate_chain=pem_chain(store, *CONTRACT))
    assert response.authorization_status is AuthorizationStatus.REJECTED
    assert response.certificate_response_status is ResponseCodeV2.FAILED_CERTIFICATE_EXPIRED


async def test_controller_accepts_a_verified_chain(store, clock):
    controller = EvseController(
        dc_bpt_evse(),
        SetpointMailbox(),
        SessionEventBus(),
        clock,
        contract_check=pnc(store).check_contract_pem,
    )
    controller.set_selected_protocol(Protocol.ISO_15118_2)
    response = await controller.is_authorized(certificate_chain=pem_chain(store, *CONTRACT))
    assert response.authorization_status is AuthorizationStatus.ACCEPTED


@pytest.mark.parametrize(
    ("failure", "v2", "v20"),
    [
        (Failure.EXPIRED, "FAILED_CertificateExpired", "WARNING_CertificateExpired"),
        (Failure.REVOKED, "FAILED_CertificateRevoked", "WARNING_CertificateRevoked"),
        (Failure.BAD_SIGNATURE, "FAILED_SignatureError", "WARNING_CertificateValidationError"),
        (Failure.UNKNOWN_ISSUER, "FAILED", "WARNING_CertificateValidationError"),
    ],
)
def test_each_failure_maps_to_a_response_code_the_protocol_allows(failure, v2, v20):
    assert response_code_v2(failure).value == v2
    assert response_code_v20(failure).value == v20


def test_with_a_pki_plug_and_charge_and_iso2_certificate_installation_are_offered():
    config = iso15118_config(dc_bpt_evse(), "INFO", plug_and_charge=True)
    assert config.supported_auth_options == [AuthEnum.PNC, AuthEnum.EIM]
    assert config.allow_cert_install_service


def _authorization_setup(tls: str | None) -> tuple[SimpleNamespace, list]:
    config = iso15118_config(dc_bpt_evse(), "INFO", plug_and_charge=True)
    ssl_object = SimpleNamespace(version=lambda: tls) if tls else None
    writer = SimpleNamespace(get_extra_info=lambda name: ssl_object)
    session = SimpleNamespace(config=config, is_tls=tls is not None, writer=writer)
    seen: list = []

    async def original(self, message, message_exi=None):
        seen.append(copy.copy(self.comm_session.config))

    state = SimpleNamespace(comm_session=session)
    asyncio.run(_honest_authorization_setup(original)(state, None))
    return session, seen


def test_iso20_never_advertises_certificate_installation():
    """Trap: iso15118 0.31.2 advertises -20 certificate installation and then raises
    NotImplementedError when the EV asks for it."""
    session, seen = _authorization_setup("TLSv1.3")
    assert seen[0].allow_cert_install_service is False
    assert AuthEnum.PNC in seen[0].supported_auth_options
    assert session.config.allow_cert_install_service is True  # -2 keeps offering it


@pytest.mark.parametrize("tls", [None, "TLSv1.2"])
def test_iso20_offers_plug_and_charge_only_over_tls13(tls):
    _, seen = _authorization_setup(tls)
    assert seen[0].supported_auth_options == [AuthEnum.EIM]


def test_station_refuses_a_secc_certificate_for_another_evse(tmp_path):
    write(tmp_path, evse_id="DE*V2G*E9999")
    config = SeccConfig(evses=(dc_bpt_evse(),), pki_dir=tmp_path)
    with pytest.raises(ConfigError, match="DE\\*V2G\\*E9999"):
        Station(config, codec=None, clock=FakeClock(NOW))  # type: ignore[arg-type]


def test_station_refuses_an_expired_secc_certificate(store):
    config = SeccConfig(evses=(dc_bpt_evse(),), pki_dir=store.root)
    with pytest.raises(ConfigError, match="expired"):
        Station(config, codec=None, clock=FakeClock(NOW + timedelta(days=61)))  # type: ignore[arg-type]


def test_package_layout_points_at_the_pki_with_private_password_files(store):
    path = package_pki_path(store, b"s3cret")
    try:
        folder = path / "iso15118_2"
        assert (folder / "certs" / "contractLeafCert.der").read_bytes() == store.certificate(
            Role.CONTRACT_LEAF
        ).public_bytes(Encoding.DER)
        password = folder / "private_keys" / "seccLeafPassword.txt"
        assert password.read_text().strip() == "s3cret"
        assert password.stat().st_mode & 0o077 == 0
        assert (folder / "private_keys").stat().st_mode & 0o077 == 0
    finally:
        remove_package_pki_path(path)
    assert not path.exists()


@pytest.mark.parametrize("algorithm", sorted(SUITES))
def test_raw_message_signatures_round_trip_in_every_suite(algorithm):
    profile = PROFILES["iso2" if algorithm == "secp256r1" else "iso20"]
    pki = build_test_pki(profile, NOW, key_algorithm=algorithm)
    key = pki[Role.CONTRACT_LEAF].key
    signature = sign_raw(key, b"signed info")
    assert verify_raw(key.public_key(), b"signed info", signature)
    assert not verify_raw(key.public_key(), b"signed inf0", signature)
    other = reissue_leaf(
        profile, Role.CONTRACT_LEAF, pki[Role.MO_SUB_CA2], NOW, key_algorithm=algorithm
    )
    assert not verify_raw(other.key.public_key(), b"signed info", signature)


def test_oem_provisioning_certificate_is_verified_to_the_oem_root(store, tmp_path):
    check = pnc(store).check_provisioning_certificate
    assert check(store.certificate(Role.OEM_LEAF).public_bytes(Encoding.DER)).accepted
    contract = store.certificate(Role.CONTRACT_LEAF).public_bytes(Encoding.DER)
    assert check(contract).failure is Failure.UNKNOWN_ISSUER
    # Another PKI's certificate names a sub-CA of the same name: its signature fails.
    foreign = write(tmp_path / "foreign").certificate(Role.OEM_LEAF)
    assert check(foreign.public_bytes(Encoding.DER)).failure is Failure.BAD_SIGNATURE
    assert check(b"junk").failure is Failure.EMPTY


def test_emaid_the_ev_claims_must_be_its_contracts(store):
    check = pnc(store).check_contract_pem
    chain = pem_chain(store, *CONTRACT)
    assert check(chain, "DE-V2G-C00000000-1").accepted
    wrong = check(chain, "DEV2GC999999999")
    assert wrong.failure is Failure.SUBJECT
    assert "DEV2GC999999999" in wrong.reason
    assert check(chain, "nonsense").failure is Failure.SUBJECT


def _peer(der: bytes | None) -> SimpleNamespace:
    return SimpleNamespace(getpeercert=lambda binary_form=False: der)


def test_vehicle_certificate_from_tls_must_be_a_valid_oem_leaf(store):
    oem = store.certificate(Role.OEM_LEAF).public_bytes(Encoding.DER)
    contract = store.certificate(Role.CONTRACT_LEAF).public_bytes(Encoding.DER)
    assert pnc(store).check_vehicle_certificate(_peer(oem)) is None  # type: ignore[arg-type]
    assert pnc(store).check_vehicle_certificate(_peer(None)) is None  # type: ignore[arg-type]
    wrong = pnc(store).check_vehicle_certificate(_peer(contract))  # type: ignore[arg-type]
    assert wrong is not None and "key_agreement" in wrong
    late = pnc(store, NOW + timedelta(days=2000)).check_vehicle_certificate(_peer(oem))  # type: ignore[arg-type]
    assert late is not None and "expired" in late
