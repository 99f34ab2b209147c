"""Chain verification: every way a chain can be wrong is rejected with its own reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from pki.issue import Credential, issue
from pki.profiles import PROFILES, CertProfile, Role, chain_roles
from pki.testpki import TestPki, build_test_pki, reissue_leaf, serial_number
from pki.verify import ChainError, Failure, verify_chain
from tests.pki.conftest import T0

LATER = T0 + timedelta(days=1)
LEAVES = [Role.SECC_LEAF, Role.CPS_LEAF, Role.CONTRACT_LEAF, Role.OEM_LEAF]


def chain_of(
    pki: TestPki, leaf: Role
) -> tuple[x509.Certificate, list[x509.Certificate], list[x509.Certificate]]:
    roles = chain_roles(leaf)
    certs = [pki[r].certificate for r in roles]
    return certs[0], certs[1:-1], [certs[-1]]


def rejected(failure: Failure, *args: object, **kwargs: object) -> ChainError:
    with pytest.raises(ChainError) as caught:
        verify_chain(*args, **kwargs)  # type: ignore[arg-type]
    assert caught.value.failure is failure, caught.value
    return caught.value


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda r: r.name)
@pytest.mark.parametrize("pki_name", ["iso2_pki", "iso20_pki", "iso20_ed448_pki"])
def test_every_leaf_of_every_profile_verifies_to_its_root(request, pki_name, leaf):
    pki = request.getfixturevalue(pki_name)
    profile = PROFILES["iso2" if pki_name == "iso2_pki" else "iso20"]
    cert, subs, anchors = chain_of(pki, leaf)
    verified = verify_chain(cert, subs, anchors, LATER, role=leaf, profile=profile)
    assert list(verified.certificates) == [cert, *subs, *anchors]


def test_intermediates_in_any_order_and_with_the_root_included_still_verify(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    verified = verify_chain(cert, [anchors[0], *reversed(subs)], anchors, LATER)
    assert verified.anchor == anchors[0]


def test_expired_contract_certificate_is_rejected(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    error = rejected(Failure.EXPIRED, cert, subs, anchors, T0 + timedelta(days=731))
    assert "DEV2GC123456789" in str(error)


def test_certificate_not_yet_valid_is_rejected(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.SECC_LEAF)
    rejected(Failure.NOT_YET_VALID, cert, subs, anchors, T0 - timedelta(seconds=1))


def test_expired_sub_ca_is_rejected_even_if_the_leaf_is_valid(iso2_pki):
    _cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    # MO sub-CA 2 lives 730 days, the contract too: a renewed contract outlives it.
    renewed = reissue_leaf(
        PROFILES["iso2"], Role.CONTRACT_LEAF, iso2_pki[Role.MO_SUB_CA2], T0 + timedelta(days=700)
    )
    error = rejected(Failure.EXPIRED, renewed.certificate, subs, anchors, T0 + timedelta(days=731))
    assert "MOSubCA2" in str(error)


def test_chain_to_an_unknown_root_is_rejected(iso2_pki):
    other = build_test_pki(PROFILES["iso2"], T0)
    cert, subs, _ = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    rejected(Failure.UNKNOWN_ISSUER, cert, subs, [other[Role.MO_ROOT].certificate], LATER)


def test_chain_without_its_sub_cas_has_an_unknown_issuer(iso2_pki):
    cert, _, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    error = rejected(Failure.UNKNOWN_ISSUER, cert, [], anchors, LATER)
    assert "MOSubCA2" in str(error)


def test_leaf_under_the_wrong_hierarchy_is_rejected(iso2_pki):
    cert, subs, _ = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    rejected(Failure.UNKNOWN_ISSUER, cert, subs, [iso2_pki[Role.V2G_ROOT].certificate], LATER)


def test_tampered_signature_is_rejected(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    der = bytearray(cert.public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the last octet of the ECDSA signature's s
    tampered = x509.load_der_x509_certificate(bytes(der))
    error = rejected(Failure.BAD_SIGNATURE, tampered, subs, anchors, LATER)
    assert "MOSubCA2" in str(error)


def test_contract_certificate_presented_as_secc_certificate_has_wrong_key_usage(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    error = rejected(Failure.KEY_USAGE, cert, subs, anchors, LATER, role=Role.SECC_LEAF)
    assert "key_agreement" in str(error)


def test_sub_ca_presented_as_leaf_is_rejected(iso2_pki):
    _, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    rejected(Failure.KEY_USAGE, subs[0], subs[1:], anchors, LATER)


def test_certificate_issued_by_a_leaf_is_rejected(iso2_pki):
    profile = PROFILES["iso2"]
    fake = reissue_leaf(profile, Role.CONTRACT_LEAF, iso2_pki[Role.CONTRACT_LEAF], T0)
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    rejected(Failure.NOT_A_CA, fake.certificate, [cert, *subs], anchors, LATER)


def test_ca_below_a_sub_ca_2_violates_its_path_length(iso2_pki):
    profile = PROFILES["iso2"]
    extra_ca = reissue_leaf(profile, Role.MO_SUB_CA2, iso2_pki[Role.MO_SUB_CA2], T0)
    leaf = reissue_leaf(profile, Role.CONTRACT_LEAF, extra_ca, T0)
    _, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    error = rejected(
        Failure.PATH_LENGTH, leaf.certificate, [extra_ca.certificate, *subs], anchors, LATER
    )
    assert "MOSubCA2" in str(error)


def test_more_than_two_sub_cas_are_rejected(iso2_pki):
    profile = PROFILES["iso2"]
    open_ca = CertProfile(
        Role.MO_SUB_CA1, True, None, frozenset({"key_cert_sign"}), "MO", 99, "Open"
    )
    chain = [iso2_pki[Role.MO_ROOT]]
    for _ in range(3):
        key = reissue_leaf(profile, Role.CONTRACT_LEAF, chain[-1], T0).key
        cert = issue(profile, open_ca, key.public_key(), chain[-1], T0, serial_number())
        chain.append(Credential(cert, key))
    leaf = reissue_leaf(profile, Role.CONTRACT_LEAF, chain[-1], T0)
    subs = [c.certificate for c in reversed(chain[1:])]
    rejected(Failure.CHAIN_TOO_LONG, leaf.certificate, subs, [chain[0].certificate], LATER)


def _crl(
    issuer: Credential, revoked: list[int], next_update_days: int = 7
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=next_update_days))
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(T0).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())  # type: ignore[arg-type]


def test_certificate_on_its_issuers_crl_is_revoked(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    crl = _crl(iso2_pki[Role.MO_SUB_CA2], [cert.serial_number])
    rejected(Failure.REVOKED, cert, subs, anchors, LATER, crls=[crl])


def test_crl_not_listing_the_certificate_lets_it_pass(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    crl = _crl(iso2_pki[Role.MO_SUB_CA2], [cert.serial_number + 1])
    verify_chain(cert, subs, anchors, LATER, crls=[crl])


def test_crl_signed_by_someone_else_is_unusable(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    other = build_test_pki(PROFILES["iso2"], T0)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(iso2_pki[Role.MO_SUB_CA2].certificate.subject)
        .last_update(T0)
        .next_update(T0 + timedelta(days=7))
        .sign(other[Role.MO_SUB_CA2].key, hashes.SHA256())  # type: ignore[arg-type]
    )
    rejected(Failure.REVOCATION_UNUSABLE, cert, subs, anchors, LATER, crls=[forged])


def test_out_of_date_crl_is_unusable(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    crl = _crl(iso2_pki[Role.MO_SUB_CA2], [], next_update_days=1)
    rejected(Failure.REVOCATION_UNUSABLE, cert, subs, anchors, T0 + timedelta(days=2), crls=[crl])


def _ocsp(pki: TestPki, status: ocsp.OCSPCertStatus) -> ocsp.OCSPResponse:
    cert = pki[Role.CONTRACT_LEAF].certificate
    issuer = pki[Role.MO_SUB_CA2]
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=issuer.certificate,
            algorithm=hashes.SHA256(),
            cert_status=status,
            this_update=T0,
            next_update=T0 + timedelta(days=7),
            revocation_time=T0 if status == ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
    )
    return builder.sign(issuer.key, hashes.SHA256())  # type: ignore[arg-type]


def test_ocsp_response_saying_revoked_rejects_the_chain(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    response = _ocsp(iso2_pki, ocsp.OCSPCertStatus.REVOKED)
    error = rejected(Failure.REVOKED, cert, subs, anchors, LATER, ocsp_responses=[response])
    assert "OCSP" in str(error)


def test_ocsp_response_saying_good_lets_the_chain_pass(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    response = _ocsp(iso2_pki, ocsp.OCSPCertStatus.GOOD)
    verify_chain(cert, subs, anchors, LATER, ocsp_responses=[response])


def test_ocsp_for_ed448_issuer_is_checked(iso20_ed448_pki):
    cert, subs, anchors = chain_of(iso20_ed448_pki, Role.CONTRACT_LEAF)
    issuer = iso20_ed448_pki[Role.MO_SUB_CA2]
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=cert,
            issuer=issuer.certificate,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.REVOKED,
            this_update=T0,
            next_update=None,
            revocation_time=T0,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
        .sign(issuer.key, None)  # type: ignore[arg-type]
    )
    rejected(Failure.REVOKED, cert, subs, anchors, LATER, ocsp_responses=[response])


def test_naive_now_is_a_programming_error(iso2_pki):
    cert, subs, anchors = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    with pytest.raises(ValueError, match="aware"):
        verify_chain(cert, subs, anchors, LATER.replace(tzinfo=None))


def test_no_trust_anchor_means_no_trust(iso2_pki):
    cert, subs, _ = chain_of(iso2_pki, Role.CONTRACT_LEAF)
    rejected(Failure.UNKNOWN_ISSUER, cert, subs, [], LATER)
