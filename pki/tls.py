"""TLS contexts for the ISO 15118 SECC, built from a PKI folder.

- ISO 15118-2: TLS 1.2 with TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 and
  TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 (ISO 15118-2 7.7.3.2); the SECC authenticates,
  the EV does not (unilateral).
- ISO 15118-20: TLS 1.3, mutual: the EV presents its vehicle (OEM provisioning)
  certificate chain, verified against the OEM roots (ISO 15118-20 7.7.3).

One server listens for both: the protocol is only agreed after the handshake
(SupportedAppProtocol), so the context offers TLS 1.2 and 1.3 and asks every client
for a certificate; :func:`requires_client_certificate` tells the edge which sessions
must be closed for lack of one.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

#: OpenSSL names of the ISO 15118-2 suites. OpenSSL 3 dropped static ECDH, so the
#: ECDH-ECDSA suite is listed for completeness and ECDHE-ECDSA is what negotiates.
ISO2_CIPHERS = "ECDHE-ECDSA-AES128-SHA256:ECDH-ECDSA-AES128-SHA256"


class TlsSetupError(ValueError):
    """The certificate chain, key or trust anchors cannot make a TLS context."""


def secc_context(
    chain_file: Path,
    key_file: Path,
    passphrase: bytes | None,
    *,
    tls12: bool,
    tls13: bool,
    client_anchor_files: Sequence[Path] = (),
) -> ssl.SSLContext:
    """The SECC's server context: its chain (leaf first) and key; TLS 1.2 for -2 and/or
    TLS 1.3 for -20, the latter requiring a client certificate that chains to one of
    ``client_anchor_files``."""
    if not (tls12 or tls13):
        raise TlsSetupError("enable TLS 1.2 (ISO 15118-2) and/or TLS 1.3 (ISO 15118-20)")
    if tls13 and not client_anchor_files:
        raise TlsSetupError("TLS 1.3 for ISO 15118-20 needs the OEM roots to verify EVs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2 if tls12 else ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    if tls12:
        context.set_ciphers(ISO2_CIPHERS)
    # No session tickets: a resumed session would skip the client certificate check
    # the edge makes after each handshake.
    context.options |= ssl.OP_NO_TICKET
    try:
        context.load_cert_chain(str(chain_file), str(key_file), password=passphrase or None)
        for anchor in client_anchor_files:
            context.load_verify_locations(cafile=str(anchor))
    except (ssl.SSLError, OSError) as error:
        raise TlsSetupError(f"cannot load {chain_file} / {key_file}: {error}") from error
    if tls13:
        # Ask for a certificate in every handshake; a TLS 1.2 (-2) EV may send none, a
        # TLS 1.3 (-20) EV must (checked by requires_client_certificate). One that is
        # sent and does not chain to an OEM root fails the handshake.
        context.verify_mode = ssl.CERT_REQUIRED if not tls12 else ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def requires_client_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> bool:
    """True when this connection is TLS 1.3 (ISO 15118-20: mutual authentication)."""
    return ssl_object.version() == "TLSv1.3"


def client_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> bytes | None:
    """The EV's verified certificate (DER), or None if it sent none."""
    return ssl_object.getpeercert(binary_form=True)


def evcc_context(
    anchor_file: Path,
    *,
    tls13: bool,
    chain_file: Path | None = None,
    key_file: Path | None = None,
    passphrase: bytes | None = None,
) -> ssl.SSLContext:
    """An EV's client context (test benches): trusts ``anchor_file`` (the V2G root) and,
    for TLS 1.3, presents ``chain_file``/``key_file`` if given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # SDP gives an address, not a name
    version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    context.minimum_version = context.maximum_version = version
    if not tls13:
        context.set_ciphers(ISO2_CIPHERS)
    context.load_verify_locations(cafile=str(anchor_file))
    if chain_file is not None and key_file is not None:
        context.load_cert_chain(str(chain_file), str(key_file), password=passphrase or None)
    return context
