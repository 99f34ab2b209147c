"""Certificate chain verification against trust anchors at an injected time.

Checked for every certificate from leaf to trust anchor: validity at ``now``, the
issuer's name and signature, CA status and keyCertSign of every issuer, the path-length
constraints, the number of sub-CAs (ISO 15118-2 Annex F: at most two), the leaf's key
usages for its role, and revocation by any CRL or OCSP response given (a CRL or OCSP
response that does not verify, or is out of date, is an error: fail closed).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from pki.issue import key_usage
from pki.profiles import PROFILES, PkiProfile, Role


class Failure(enum.Enum):
    """Why a chain was rejected; each maps onto the protocols' response codes."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    UNKNOWN_ISSUER = "unknown issuer"
    BAD_SIGNATURE = "bad signature"
    NOT_A_CA = "issuer is not a CA"
    KEY_USAGE = "wrong key usage"
    PATH_LENGTH = "path length exceeded"
    CHAIN_TOO_LONG = "too many sub-CAs"
    REVOKED = "revoked"
    REVOCATION_UNUSABLE = "revocation information unusable"
    SUBJECT = "wrong subject"
    EMPTY = "no certificate"


class ChainError(Exception):
    """A chain that does not verify: ``failure`` says what kind, the message says where."""

    def __init__(self, failure: Failure, detail: str) -> None:
        self.failure = failure
        self.detail = detail
        super().__init__(f"{failure.value}: {detail}")


@dataclass(frozen=True, slots=True)
class VerifiedChain:
    """A chain that verified: leaf first, the trust anchor last."""

    certificates: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        if len(self.certificates) < 2:
            raise ValueError("a verified chain holds at least a leaf and its anchor")

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certificates[-1]

    @property
    def leaf_common_name(self) -> str:
        return common_name(self.leaf)


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def describe(certificate: x509.Certificate) -> str:
    return f"'{common_name(certificate) or certificate.subject.rfc4514_string()}'"


def verify_chain(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
    *,
    role: Role | None = None,
    profile: PkiProfile | None = None,
    crls: Sequence[x509.CertificateRevocationList] = (),
    ocsp_responses: Sequence[ocsp.OCSPResponse] = (),
) -> VerifiedChain:
    """Build the path from ``leaf`` through ``intermediates`` to one of ``anchors``
    and check it at ``now``; return it, or raise ChainError with the first problem.

    ``role`` (when given) requires the leaf to carry that role's key usages of
    ``profile`` (ISO 15118-2 by default).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not anchors:
        raise ChainError(Failure.UNKNOWN_ISSUER, "no trust anchor configured")
    path = _build_path(leaf, intermediates, anchors)
    sub_cas = len(path) - 2
    for certificate in path:
        _check_time(certificate, now)
    for child, parent in itertools.pairwise(path):
        _check_signature(child, parent)
        _check_issuer_may_sign(parent, below=path.index(parent) - 1)
    if role is not None:
        _check_leaf_usage(leaf, role, profile or PROFILES["iso2"])
    elif _is_ca(leaf):
        raise ChainError(Failure.KEY_USAGE, f"leaf {describe(leaf)} is a CA certificate")
    max_sub_cas = profile.max_sub_cas if profile else 2
    if sub_cas > max_sub_cas:
        raise ChainError(
            Failure.CHAIN_TOO_LONG,
            f"{sub_cas} sub-CAs between leaf and root, at most {max_sub_cas}",
        )
    for child, parent in itertools.pairwise(path):
        _check_revocation(child, parent, now, crls, ocsp_responses)
    return VerifiedChain(tuple(path))


def check_leaf(
    certificate: x509.Certificate, role: Role, profile: PkiProfile, now: datetime
) -> None:
    """The leaf-only part of :func:`verify_chain`: validity at ``now`` and the role's
    key usages (for a peer whose chain a TLS library already verified)."""
    _check_time(certificate, now)
    _check_leaf_usage(certificate, role, profile)


def _build_path(
    leaf: x509.Certificate,
    intermediates: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
) -> list[x509.Certificate]:
    path = [leaf]
    pool = [c for c in intermediates if c != leaf]
    anchor_set = list(anchors)
    current = leaf
    while True:
        for anchor in anchor_set:
            if anchor.subject == current.issuer and _signed_by(current, anchor):
                path.append(anchor)
                return path
        candidates = [c for c in pool if c.subject == current.issuer]
        if not candidates:
            if current.issuer == current.subject:
                raise ChainError(
                    Failure.UNKNOWN_ISSUER,
                    f"chain ends in root {describe(current)}, which is not a trust anchor",
                )
            if any(a.subject == current.issuer for a in anchor_set):
                raise ChainError(
                    Failure.UNKNOWN_ISSUER,
                    f"{describe(current)} names a trust anchor as issuer but was not signed "
                    "by its key (another root of the same name, or a tampered signature)",
                )
            raise ChainError(
                Failure.UNKNOWN_ISSUER,
                f"no issuer '{current.issuer.rfc4514_string()}' of {describe(current)} "
                "among the chain and the trust anchors",
            )
        parent = next((c for c in candidates if _signed_by(current, c)), candidates[0])
        if parent in path or len(path) > 8:
            raise ChainError(Failure.UNKNOWN_ISSUER, "the chain loops")
        pool.remove(parent)
        path.append(parent)
        current = parent


def _signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_time(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        raise ChainError(
            Failure.NOT_YET_VALID,
            f"{describe(certificate)} is valid from "
            f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M}Z",
        )
    if now > certificate.not_valid_after_utc:
        raise ChainError(
            Failure.EXPIRED,
            f"{describe(certificate)} expired {certificate.not_valid_after_utc:%Y-%m-%d %H:%M}Z",
        )


def _check_signature(child: x509.Certificate, parent: x509.Certificate) -> None:
    if not _signed_by(child, parent):
        raise ChainError(
            Failure.BAD_SIGNATURE,
            f"signature of {describe(child)} does not verify with the key of {describe(parent)}",
        )


def _basic_constraints(certificate: x509.Certificate) -> x509.BasicConstraints | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(certificate: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _is_ca(certificate: x509.Certificate) -> bool:
    constraints = _basic_constraints(certificate)
    return constraints is not None and constraints.ca


def _check_issuer_may_sign(issuer: x509.Certificate, below: int) -> None:
    """``below``: how many CA certificates sit between ``issuer`` and the leaf (RFC 5280
    6.1.4: pathLenConstraint counts intermediate CAs below this one, leaf excluded)."""
    constraints = _basic_constraints(issuer)
    if constraints is None or not constraints.ca:
        raise ChainError(
            Failure.NOT_A_CA, f"{describe(issuer)} is not a CA but issued a certificate"
        )
    usage = _key_usage(issuer)
    if usage is None or not usage.key_cert_sign:
        raise ChainError(Failure.KEY_USAGE, f"{describe(issuer)} lacks keyCertSign")
    if constraints.path_length is not None and below > constraints.path_length:
        raise ChainError(
            Failure.PATH_LENGTH,
            f"{describe(issuer)} allows {constraints.path_length} sub-CAs below it, has {below}",
        )


_USAGE_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


def _check_leaf_usage(leaf: x509.Certificate, role: Role, profile: PkiProfile) -> None:
    if _is_ca(leaf):
        raise ChainError(Failure.KEY_USAGE, f"leaf {describe(leaf)} is a CA certificate")
    usage = _key_usage(leaf)
    if usage is None:
        raise ChainError(Failure.KEY_USAGE, f"{describe(leaf)} has no keyUsage extension")
    wanted = key_usage(profile[role])
    missing = [n for n in _USAGE_NAMES if getattr(wanted, n) and not getattr(usage, n)]
    if missing:
        raise ChainError(
            Failure.KEY_USAGE,
            f"{describe(leaf)} as {role.name} needs key usage {', '.join(missing)}",
        )
    if usage.key_cert_sign:
        raise ChainError(Failure.KEY_USAGE, f"leaf {describe(leaf)} may sign certificates")


def _check_revocation(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    crls: Sequence[x509.CertificateRevocationList],
    responses: Sequence[ocsp.OCSPResponse],
) -> None:
    for crl in crls:
        if crl.issuer != certificate.issuer:
            continue
        if not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            raise ChainError(
                Failure.REVOCATION_UNUSABLE, f"CRL of {describe(issuer)} has a bad signature"
            )
        if crl.next_update_utc is not None and now > crl.next_update_utc:
            raise ChainError(
                Failure.REVOCATION_UNUSABLE,
                f"CRL of {describe(issuer)} is out of date since {crl.next_update_utc:%Y-%m-%d}",
            )
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            raise ChainError(Failure.REVOKED, f"{describe(certificate)} is revoked (CRL)")
    for response in responses:
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        for single in response.responses:
            if single.serial_number != certificate.serial_number:
                continue
            if single.issuer_key_hash != _key_hash(issuer, single.hash_algorithm):
                continue
            _check_ocsp_signer(response, issuer)
            if single.next_update_utc is not None and now > single.next_update_utc:
                raise ChainError(
                    Failure.REVOCATION_UNUSABLE,
                    f"OCSP response for {describe(certificate)} is out of date",
                )
            if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                raise ChainError(Failure.REVOKED, f"{describe(certificate)} is revoked (OCSP)")


def _key_hash(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    # RFC 6960 4.1.1: issuerKeyHash hashes the issuer's subjectPublicKey bits, which are
    # the X9.62 point for EC keys and the raw key for EdDSA (RFC 5480, RFC 8410).
    key = issuer.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        raw = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    else:
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    digest = hashes.Hash(algorithm)
    digest.update(raw)
    return digest.finalize()


def _check_ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> None:
    signer = issuer
    for responder in response.certificates:
        if responder.issuer == issuer.subject and _signed_by(responder, issuer):
            signer = responder
    try:
        key = signer.public_key()
        if isinstance(key, ec.EllipticCurvePublicKey):
            assert response.signature_hash_algorithm is not None
            key.verify(
                response.signature,
                response.tbs_response_bytes,
                ec.ECDSA(response.signature_hash_algorithm),
            )
        elif isinstance(key, ed448.Ed448PublicKey):
            key.verify(response.signature, response.tbs_response_bytes)
        else:
            raise InvalidSignature
    except InvalidSignature as error:
        raise ChainError(
            Failure.REVOCATION_UNUSABLE,
            f"OCSP response for a certificate of {describe(issuer)} has a bad signature",
        ) from error
