"""Authorize at the CSMS (OCPP 2.0.1 C01, C07): idTokens by an ``Authorizer`` (the
site's allow list today, driver accounts later) and ISO 15118 contract certificates
by the ``pki`` chain checks against the configured MO roots.

A contract arrives in one of two forms:

- ``certificate``: the EV's chain in PEM, leaf first (central contract validation):
  verified in full (issuer chain to an MO root, validity, signatures, CRLs given) and
  its CN, the EMAID, must be the idToken.
- ``iso15118CertificateHashData``: the station verified the chain and asks for the
  revocation status only (C07.FR.06): the issuer must be a configured MO CA (by name
  and key hash) and the serial must not be on its CRL. Validity cannot be seen in
  hashes; the station checked it.

The verdict maps onto ``idTokenInfo.status`` and ``certificateStatus``; a verified
contract is Accepted unless the Authorizer knows its EMAID as something other than
Unknown (Blocked, Expired, ...).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pki.emaid import EmaidError, normalise_emaid
from pki.identity import contract_emaid
from pki.profiles import Role
from pki.store import StoreError, parse_certificates, read_certificates
from pki.verify import ChainError, Failure, verify_chain

#: idTokenInfo.status values (AuthorizationStatusEnumType, 2.0.1 and 2.1).
ACCEPTED, BLOCKED, EXPIRED, INVALID, UNKNOWN = (
    "Accepted",
    "Blocked",
    "Expired",
    "Invalid",
    "Unknown",
)


@dataclass(frozen=True, slots=True)
class IdToken:
    """An idToken as the station sent it: ``value`` (case-insensitive in OCPP) and its
    ``kind`` (Central, eMAID, ISO14443, MacAddress, ...)."""

    value: str
    kind: str


class Authorizer(Protocol):
    """Who may charge: an idToken's AuthorizationStatus (``Accepted``, ``Blocked``,
    ``Expired``, ``Invalid``, ``Unknown``, ...)."""

    async def status_of(self, token: IdToken) -> str: ...


class AllowList:
    """The site's ``[ocpp] id_tokens``: those tokens Accepted (any kind, case-folded
    as OCPP compares them), every other Unknown."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = frozenset(t.casefold() for t in tokens)

    async def status_of(self, token: IdToken) -> str:
        return ACCEPTED if token.value.casefold() in self._tokens else UNKNOWN


@dataclass(frozen=True, slots=True)
class ContractTrust:
    """The MO CAs contracts chain to: ``anchors`` (roots) and ``cas`` (every CA
    certificate configured, roots and sub-CAs, for the hash lookup), with CRLs."""

    anchors: tuple[x509.Certificate, ...] = ()
    cas: tuple[x509.Certificate, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()

    @classmethod
    def load(cls, roots: Sequence[Path], crls: Sequence[Path]) -> ContractTrust:
        """From PEM/DER files (raises ValueError naming the file that cannot be read)."""
        try:
            certificates = [c for path in roots for c in read_certificates(path)]
        except StoreError as error:
            raise ValueError(f"ocpp.contract_roots: {error}") from error
        lists = []
        for path in crls:
            try:
                data = path.read_bytes()
                lists.append(
                    x509.load_pem_x509_crl(data)
                    if b"-----BEGIN" in data
                    else x509.load_der_x509_crl(data)
                )
            except (OSError, ValueError) as error:
                raise ValueError(f"ocpp.contract_crls: cannot read {path}: {error}") from error
        anchors = tuple(c for c in certificates if c.issuer == c.subject)
        return cls(anchors, tuple(certificates), tuple(lists))


@dataclass(frozen=True, slots=True)
class Verdict:
    """The Authorize answer: idTokenInfo.status and, for a contract, certificateStatus."""

    status: str
    certificate_status: str | None = None
    reason: str = ""

    def payload(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"idTokenInfo": {"status": self.status}}
        if self.certificate_status is not None:
            answer["certificateStatus"] = self.certificate_status
        return answer


#: pki failures → (idTokenInfo.status, certificateStatus).
_FAILURES: Mapping[Failure, tuple[str, str]] = {
    Failure.EXPIRED: (EXPIRED, "CertificateExpired"),
    Failure.REVOKED: (BLOCKED, "CertificateRevoked"),
    Failure.BAD_SIGNATURE: (INVALID, "SignatureError"),
}


def check_contract_chain(pem: str, token: IdToken, trust: ContractTrust, now: datetime) -> Verdict:
    """A PEM contract chain (leaf first) checked against ``trust`` at ``now``."""
    try:
        chain = parse_certificates(pem.encode(), "the certificate field")
    except StoreError as error:
        return Verdict(INVALID, "CertChainError", str(error))
    try:
        verified = verify_chain(
            chain[0], chain[1:], trust.anchors, now, role=Role.CONTRACT_LEAF, crls=trust.crls
        )
        emaid = contract_emaid(verified.leaf)
    except ChainError as error:
        status, certificate_status = _FAILURES.get(error.failure, (INVALID, "CertChainError"))
        return Verdict(status, certificate_status, str(error))
    if emaid != _emaid_or_none(token.value):
        return Verdict(
            INVALID, "CertChainError", f"contract is for {emaid}, idToken is {token.value}"
        )
    return Verdict(ACCEPTED, "Accepted")


def check_hash_data(entries: Sequence[Mapping[str, Any]], trust: ContractTrust) -> Verdict:
    """Revocation status of the certificates ``entries`` describe (OCSPRequestDataType:
    hashes of the issuer's name and key, the serial in hex)."""
    for entry in entries:
        issuer = next((ca for ca in trust.cas if _describes(entry, ca)), None)
        if issuer is None:
            return Verdict(
                INVALID, "CertChainError", "issuer is not a configured MO certificate authority"
            )
        try:
            serial = int(str(entry["serialNumber"]), 16)
        except ValueError:
            return Verdict(INVALID, "CertChainError", "serialNumber is not hexadecimal")
        if _revoked(serial, issuer, trust.crls):
            return Verdict(BLOCKED, "CertificateRevoked", f"serial {serial:x} is revoked")
    return Verdict(ACCEPTED, "Accepted")


def _revoked(
    serial: int, issuer: x509.Certificate, crls: Sequence[x509.CertificateRevocationList]
) -> bool:
    key = issuer.public_key()
    return any(
        crl.issuer == issuer.subject
        and crl.is_signature_valid(key)  # type: ignore[arg-type]
        and crl.get_revoked_certificate_by_serial_number(serial) is not None
        for crl in crls
    )


_HASHES = {"SHA256": hashlib.sha256, "SHA384": hashlib.sha384, "SHA512": hashlib.sha512}


def _describes(entry: Mapping[str, Any], issuer: x509.Certificate) -> bool:
    """True when ``entry``'s issuer hashes are those of ``issuer`` (RFC 6960 CertID:
    the DER of its subject name, the bits of its subject public key)."""
    digest = _HASHES.get(str(entry.get("hashAlgorithm")))
    if digest is None:
        return False
    name_hash = digest(issuer.subject.public_bytes()).hexdigest()
    key_hash = digest(_key_bits(issuer)).hexdigest()
    return bool(
        str(entry.get("issuerNameHash", "")).lower() == name_hash
        and str(entry.get("issuerKeyHash", "")).lower() == key_hash
    )


def _key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey bits: the X9.62 point of an EC key, the PKCS#1 structure
    of an RSA key, the raw key of an EdDSA one (RFC 5480, 3279, 8410)."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _emaid_or_none(value: str) -> str | None:
    try:
        return normalise_emaid(value)
    except EmaidError:
        return None


class Authorization:
    """The CSMS's answer to AuthorizeRequest payloads."""

    def __init__(self, authorizer: Authorizer, trust: ContractTrust) -> None:
        self._authorizer = authorizer
        self._trust = trust

    async def answer(self, payload: Mapping[str, Any], now: datetime) -> Verdict:
        token = IdToken(str(payload["idToken"]["idToken"]), str(payload["idToken"]["type"]))
        contract: Verdict | None = None
        if "certificate" in payload:
            contract = check_contract_chain(payload["certificate"], token, self._trust, now)
        elif "iso15118CertificateHashData" in payload:
            contract = check_hash_data(payload["iso15118CertificateHashData"], self._trust)
        status = await self._authorizer.status_of(token)
        if contract is None:
            return Verdict(status)
        if contract.status != ACCEPTED:
            return contract
        # A verified contract stands for itself unless the site knows its EMAID.
        return Verdict(ACCEPTED if status == UNKNOWN else status, contract.certificate_status)
