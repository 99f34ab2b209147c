"""Issuing certificates by role profile (pure: ``now`` and ``serial`` are arguments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from pki.keys import PrivateKey, PublicKey, algorithm_of, signature_hash
from pki.profiles import CertProfile, PkiProfile


@dataclass(frozen=True, slots=True)
class Credential:
    """A certificate and the private key that belongs to it."""

    certificate: x509.Certificate
    key: PrivateKey

    def __post_init__(self) -> None:
        if self.certificate.public_key() != self.key.public_key():
            raise ValueError("the private key does not belong to the certificate")


def subject_name(profile: CertProfile, common_name: str | None = None) -> x509.Name:
    """CN, O, C and DC of a role's subject (the DC names the hierarchy: V2G, MO, ...)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name or profile.common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "v2g test PKI"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, profile.domain_component),
        ]
    )


def key_usage(profile: CertProfile) -> x509.KeyUsage:
    usage = profile.key_usage
    return x509.KeyUsage(
        digital_signature="digital_signature" in usage,
        content_commitment="content_commitment" in usage,
        key_encipherment="key_encipherment" in usage,
        data_encipherment=False,
        key_agreement="key_agreement" in usage,
        key_cert_sign="key_cert_sign" in usage,
        crl_sign="crl_sign" in usage,
        encipher_only=False,
        decipher_only=False,
    )


def issue(
    pki: PkiProfile,
    profile: CertProfile,
    public_key: PublicKey,
    issuer: Credential,
    now: datetime,
    serial: int,
    *,
    common_name: str | None = None,
    validity_days: int | None = None,
    not_before: datetime | None = None,
) -> x509.Certificate:
    """A certificate for ``public_key`` in the role of ``profile``, signed by ``issuer``
    (roots are self-signed: :func:`issue_root`)."""
    return _build(
        pki,
        profile,
        public_key,
        issuer.certificate.subject,
        issuer.key,
        now,
        serial,
        common_name,
        validity_days,
        not_before,
        authority=issuer.certificate,
    )


def issue_root(
    pki: PkiProfile,
    profile: CertProfile,
    key: PrivateKey,
    now: datetime,
    serial: int,
    *,
    validity_days: int | None = None,
) -> x509.Certificate:
    """A self-signed root certificate."""
    name = subject_name(profile)
    return _build(
        pki, profile, key.public_key(), name, key, now, serial, None, validity_days, None, None
    )


def _build(
    pki: PkiProfile,
    profile: CertProfile,
    public_key: PublicKey,
    issuer_name: x509.Name,
    signing_key: PrivateKey,
    now: datetime,
    serial: int,
    common_name: str | None,
    validity_days: int | None,
    not_before: datetime | None,
    authority: x509.Certificate | None,
) -> x509.Certificate:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    key_algorithm = algorithm_of(public_key)
    signer_algorithm = algorithm_of(signing_key)
    if key_algorithm not in pki.key_algorithms or signer_algorithm not in pki.key_algorithms:
        raise ValueError(
            f"{pki.name} certificates use {' or '.join(pki.key_algorithms)} keys, "
            f"got {key_algorithm or 'another algorithm'}"
        )
    start = not_before or now
    days = profile.validity_days if validity_days is None else validity_days
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name(profile, common_name))
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(
            x509.BasicConstraints(ca=profile.is_ca, path_length=profile.path_length),
            critical=True,
        )
        .add_extension(key_usage(profile), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if authority is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    return builder.sign(signing_key, signature_hash(signer_algorithm))  # type: ignore[arg-type]
