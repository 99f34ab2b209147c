"""EMAID syntax, the SECC certificate's EVSE ID, profile rules and the PKI folder."""

from __future__ import annotations

import os
import stat

import pytest

from pki.emaid import EmaidError, normalise_emaid
from pki.identity import check_secc_subject, contract_emaid
from pki.profiles import PROFILES, CertProfile, Role
from pki.store import PkiStore, StoreError
from pki.verify import ChainError, Failure


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("DE8AACA2B3C4D5N", "DE8AACA2B3C4D5N"),
        ("DE8AACA2B3C4D5", "DE8AACA2B3C4D5"),
        ("de-8aa-ca2b3c4d5-n", "DE8AACA2B3C4D5N"),
    ],
)
def test_emaids_with_or_without_separators_and_check_digit_are_accepted(written, normal):
    assert normalise_emaid(written) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "DE8AACA2B3C4D",
        "DE8AACA2B3C4D5NX",
        "1E8AACA2B3C4D5N",
        "DE*8AA*CA2B3C4D5",
        "DE8AACA2B3C4D_N",
    ],
)
def test_malformed_emaids_are_refused_with_the_expected_shape(bad):
    with pytest.raises(EmaidError, match="country"):
        normalise_emaid(bad)


def test_secc_certificate_must_name_the_configured_evse(iso2_pki):
    cert = iso2_pki[Role.SECC_LEAF].certificate
    check_secc_subject(cert, "DE*V2G*E0001")
    check_secc_subject(cert, "dev2ge0001")
    with pytest.raises(ChainError) as caught:
        check_secc_subject(cert, "DE*V2G*E0002")
    assert caught.value.failure is Failure.SUBJECT
    assert "DE*V2G*E0002" in str(caught.value)


def test_contract_certificate_carries_its_emaid(iso2_pki):
    assert contract_emaid(iso2_pki[Role.CONTRACT_LEAF].certificate) == "DEV2GC123456789"
    with pytest.raises(ChainError, match="not an EMAID"):
        contract_emaid(iso2_pki[Role.SECC_LEAF].certificate)


def test_profiles_give_sub_ca_1_path_length_1_and_sub_ca_2_path_length_0():
    for profile in PROFILES.values():
        assert profile[Role.CPO_SUB_CA1].path_length == 1
        assert profile[Role.MO_SUB_CA2].path_length == 0
        assert profile[Role.V2G_ROOT].path_length is None
        assert not profile[Role.SECC_LEAF].is_ca


def test_iso20_uses_secp521r1_or_ed448_and_iso2_secp256r1():
    assert PROFILES["iso2"].key_algorithms == ("secp256r1",)
    assert PROFILES["iso20"].key_algorithms == ("secp521r1", "ed448")


def test_iso2_and_iso20_certificates_carry_their_profiles_key(
    iso2_pki, iso20_pki, iso20_ed448_pki
):
    assert iso2_pki[Role.SECC_LEAF].certificate.public_key().curve.name == "secp256r1"
    assert iso20_pki[Role.SECC_LEAF].certificate.public_key().curve.name == "secp521r1"
    assert iso20_pki[Role.SECC_LEAF].certificate.signature_hash_algorithm.name == "sha512"
    assert iso20_ed448_pki[Role.SECC_LEAF].certificate.signature_hash_algorithm is None


def test_a_ca_profile_without_key_cert_sign_cannot_exist():
    with pytest.raises(ValueError, match="keyCertSign"):
        CertProfile(Role.MO_SUB_CA1, True, 1, frozenset({"crl_sign"}), "MO", 10, "x")


def test_keys_are_written_owner_only_and_certificates_world_readable(tmp_path, iso2_pki):
    store = PkiStore(tmp_path)
    store.write_credential(Role.SECC_LEAF, iso2_pki[Role.SECC_LEAF], None)
    assert stat.S_IMODE(os.stat(store.key_path(Role.SECC_LEAF)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.private_keys).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.cert_path(Role.SECC_LEAF)).st_mode) == 0o644


def test_an_existing_world_readable_key_file_is_tightened_on_rewrite(tmp_path, iso2_pki):
    store = PkiStore(tmp_path)
    store.write_credential(Role.SECC_LEAF, iso2_pki[Role.SECC_LEAF], None)
    os.chmod(store.key_path(Role.SECC_LEAF), 0o644)
    store.write_credential(Role.SECC_LEAF, iso2_pki[Role.SECC_LEAF], None)
    assert stat.S_IMODE(os.stat(store.key_path(Role.SECC_LEAF)).st_mode) == 0o600


def test_encrypted_keys_need_the_passphrase_from_the_named_variable(tmp_path, iso2_pki):
    store = PkiStore(tmp_path)
    store.write_manifest("iso2", "MY_PASS")
    store.write_credential(Role.SECC_LEAF, iso2_pki[Role.SECC_LEAF], b"s3cret")
    assert b"ENCRYPTED" in store.key_path(Role.SECC_LEAF).read_bytes()
    assert b"s3cret" not in (tmp_path / "pki.json").read_bytes()
    with pytest.raises(StoreError, match="set MY_PASS"):
        store.credential(Role.SECC_LEAF, {})
    with pytest.raises(StoreError, match=r"seccLeaf\.key"):
        store.credential(Role.SECC_LEAF, {"MY_PASS": "wrong"})
    loaded = store.credential(Role.SECC_LEAF, {"MY_PASS": "s3cret"})
    assert loaded.certificate == iso2_pki[Role.SECC_LEAF].certificate
