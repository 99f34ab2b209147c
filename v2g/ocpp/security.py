"""OCPP security profiles 2 and 3 (OCPP 2.0.1 Part 2, A00): the TLS contexts of both
sides and the station identity a client certificate carries.

| profile | transport | the station proves who it is by |
|---|---|---|
| 1 | ws:// | basic auth, username = station id (A00.FR.204) |
| 2 | wss://, CSMS certificate | basic auth over TLS, username = station id |
| 3 | wss://, both certificates | its client certificate: CN = station id (A00.FR.405) |

One profile per port (A00.FR.001/002/006): a profile 2 or 3 CSMS listens for TLS only,
so a plain ws:// station never reaches the upgrade, and a profile 3 CSMS requires a
client certificate in the handshake, so a profile 2 station (password, no certificate)
is refused there too: no downgrade.

Certificates come from the project's ``pki`` (``v2g pki issue csms|station``): leaves
of the CPO hierarchy (V2G root → CPO sub-CA 1 → CPO sub-CA 2), which OCPP allows
(A00.FR.428: the Charging Station certificate may be the SECC certificate).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from pki.issue import Credential
from pki.keys import private_key_pem
from pki.profiles import ISSUER, PROFILES, Role
from pki.store import PkiStore
from pki.testpki import reissue_leaf
from pki.verify import ChainError, check_leaf, common_name
from v2g.ocpp.config import TlsConfigError, TlsFiles

__all__ = [
    "TLS12_CIPHERS",
    "TlsConfigError",
    "TlsFiles",
    "certificate_identity_problem",
    "csms_context",
    "issue_ocpp_credential",
    "station_context",
]

#: TLS 1.2 suites: the ECDHE-ECDSA pair every OCPP endpoint supports and the TLS_RSA
#: pair a CSMS must offer too (A00.FR.318; those need an RSA certificate). Nothing
#: unsuitable for legacy use (A00.FR.319): no CBC, no SHA-1, no RC4/3DES. TLS 1.3
#: keeps OpenSSL's suites (all AEAD).
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)


def _hardened(context: ssl.SSLContext) -> ssl.SSLContext:
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # A00.FR.313: TLS 1.2 or above
    context.set_ciphers(TLS12_CIPHERS)
    # A00.FR.321: no TLS compression; no renegotiation (nothing in OCPP needs it).
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def _load(context: ssl.SSLContext, files: TlsFiles, environ: Mapping[str, str]) -> None:
    try:
        if files.cert is not None and files.key is not None:
            context.load_cert_chain(
                str(files.cert), str(files.key), password=files.passphrase(environ)
            )
        if files.ca is not None:
            context.load_verify_locations(cafile=str(files.ca))
    except (ssl.SSLError, OSError) as error:
        names = ", ".join(str(p) for p in (files.cert, files.key, files.ca) if p is not None)
        raise TlsConfigError(f"cannot load {names}: {error}") from error


def csms_context(
    profile: int, files: TlsFiles, environ: Mapping[str, str]
) -> ssl.SSLContext | None:
    """The CSMS's server context for ``profile`` (None for profile 1: plain ws). In
    profile 3 a client certificate chaining to ``files.ca`` is required in the
    handshake (A00.FR.403, A00.FR.407: otherwise no connection)."""
    if profile == 1:
        return None
    if files.cert is None or files.key is None:
        raise TlsConfigError(f"security profile {profile} needs tls_cert and tls_key")
    context = _hardened(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    # Session tickets would let a resumed session skip the client certificate check.
    context.options |= ssl.OP_NO_TICKET
    if profile == 3:
        if files.ca is None:
            raise TlsConfigError("security profile 3 needs client_ca (the stations' CA)")
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        files = TlsFiles(files.cert, files.key, None, files.passphrase_env)
    _load(context, files, environ)
    return context


def station_context(
    profile: int, files: TlsFiles, environ: Mapping[str, str]
) -> ssl.SSLContext | None:
    """The station's client context for ``profile`` (None for profile 1). It checks
    the CSMS certificate's path to ``files.ca`` and that it names the host of the
    URL (A00.FR.307/308, A00.FR.510); in profile 3 it presents its own certificate."""
    if profile == 1:
        return None
    if files.ca is None:
        raise TlsConfigError(f"security profile {profile} needs ca_file (the CSMS's CA)")
    if profile == 3 and (files.cert is None or files.key is None):
        raise TlsConfigError("security profile 3 needs client_cert and client_key")
    context = _hardened(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
    if profile == 2:
        files = TlsFiles(None, None, files.ca, files.passphrase_env)
    _load(context, files, environ)
    return context


def certificate_identity_problem(
    der: bytes | None, station_id: str, organization: str | None, now: datetime
) -> str | None:
    """None when the client certificate ``der`` (already path-validated by the TLS
    handshake) is ``station_id``'s, else why not: its CN must be the station id in
    the URL (A00.FR.405: the unique serial number the station connects as), its O
    must name the CSO when one is configured (A00.FR.404), and it must be valid now
    for a TLS client (digitalSignature)."""
    if der is None:
        return "no client certificate"
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return "unreadable client certificate"
    name = common_name(certificate)
    if name != station_id:
        return f"the certificate is for {name!r}, not {station_id!r}"
    if organization is not None:
        names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if not any(organization in str(n.value) for n in names):
            return f"the certificate's O does not name {organization!r}"
    try:
        # The key usages of a CPO leaf are the same in both profiles.
        check_leaf(certificate, Role.SECC_LEAF, PROFILES["iso2"], now)
    except ChainError as error:
        return str(error)
    return None


def issue_ocpp_credential(
    store: PkiStore, name: str, out: Path, environ: Mapping[str, str], now: datetime
) -> tuple[Path, Path, datetime]:
    """A CPO leaf with CN ``name`` (a CSMS host name or a station id), written to
    ``out/<name>.pem`` (leaf, CPO sub-CA 2, CPO sub-CA 1) and ``out/<name>.key``
    (0600; encrypted when the PKI's keys are). The CA both sides trust is the PKI's
    V2G root, ``certs/v2gRootCACert.pem``."""
    issuer_role = ISSUER[Role.SECC_LEAF]
    assert issuer_role is not None
    issuer = store.credential(issuer_role, environ)
    credential: Credential = reissue_leaf(
        store.profile(), Role.SECC_LEAF, issuer, now, common_name=name
    )
    chain = [credential.certificate, issuer.certificate]
    above = ISSUER[issuer_role]
    if above is not None:
        chain.append(store.certificate(above))
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out / f"{name}.pem", out / f"{name}.key"
    cert_path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in chain))
    key_path.touch(mode=0o600)
    key_path.chmod(0o600)
    key_path.write_bytes(private_key_pem(credential.key, store.passphrase(environ)))
    return cert_path, key_path, credential.certificate.not_valid_after_utc
