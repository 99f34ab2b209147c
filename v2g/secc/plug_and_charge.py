"""Plug & Charge at the SECC edge: the station's PKI (TLS context, trust anchors)
and the checks the iso15118 0.31.2 SECC does not make: the whole contract chain (-2
and -20), the EMAID the EV claims, the EV's OEM provisioning certificate (-2
certificate installation, -20 TLS), the SECC's own certificate at start-up. The hooks
that call these from inside the package live in ``iso15118_hooks``.
"""

from __future__ import annotations

import logging
import os
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from pki.emaid import EmaidError, normalise_emaid
from pki.identity import check_secc_subject, contract_emaid
from pki.profiles import Role
from pki.store import PkiStore, StoreError, parse_certificates, read_certificates
from pki.tls import TlsSetupError, client_certificate, secc_context
from pki.verify import ChainError, Failure, check_leaf, verify_chain
from v2g.clock import Clock

logger = logging.getLogger(__name__)


class PkiSetupError(ValueError):
    """The configured PKI cannot serve Plug & Charge; the message says why."""


@dataclass(frozen=True, slots=True)
class ContractVerdict:
    """The outcome of checking one contract certificate chain."""

    emaid: str | None
    failure: Failure | None
    reason: str

    @property
    def accepted(self) -> bool:
        return self.failure is None


class PlugAndCharge:
    """The SECC's PKI: its TLS context, the contract trust anchors, and a clock."""

    def __init__(
        self,
        store: PkiStore,
        clock: Clock,
        environ: Mapping[str, str],
        *,
        tls12: bool,
        tls13: bool,
    ) -> None:
        self.store = store
        self._clock = clock
        self._environ = environ
        try:
            self.passphrase = store.passphrase(environ)
            self.contract_anchors = tuple(
                store.certificate(r) for r in (Role.MO_ROOT, Role.V2G_ROOT)
            )
            self.tls_context: ssl.SSLContext = secc_context(
                store.chain_path(Role.SECC_LEAF),
                store.key_path(Role.SECC_LEAF),
                self.passphrase,
                tls12=tls12,
                tls13=tls13,
                client_anchor_files=[store.cert_path(Role.OEM_ROOT)],
            )
        except (StoreError, TlsSetupError) as error:
            raise PkiSetupError(str(error)) from error

    def check_secc_certificate(self, evse_ids: list[str]) -> str:
        """Verify the SECC's own chain now and that it names one of ``evse_ids``."""
        chain = read_certificates(self.store.chain_path(Role.SECC_LEAF))
        try:
            verify_chain(
                chain[0],
                chain[1:],
                [self.store.certificate(Role.V2G_ROOT)],
                self._clock.now(),
                role=Role.SECC_LEAF,
                profile=self.store.profile(),
            )
        except ChainError as error:
            raise PkiSetupError(f"SECC certificate: {error}") from error
        problems: list[str] = []
        for evse_id in evse_ids:
            try:
                check_secc_subject(chain[0], evse_id)
                return evse_id
            except ChainError as error:
                problems.append(error.detail)
        raise PkiSetupError(f"SECC certificate: {'; '.join(problems)}")

    def check_contract(
        self, leaf: x509.Certificate, sub_cas: list[x509.Certificate], now: datetime | None = None
    ) -> ContractVerdict:
        """The full contract chain against the MO and V2G roots, and the EMAID in it."""
        try:
            verified = verify_chain(
                leaf,
                sub_cas,
                self.contract_anchors,
                now or self._clock.now(),
                role=Role.CONTRACT_LEAF,
                profile=self.store.profile(),
            )
            emaid = contract_emaid(verified.leaf)
        except ChainError as error:
            return ContractVerdict(None, error.failure, str(error))
        return ContractVerdict(emaid, None, "contract chain verified")

    def check_vehicle_certificate(self, ssl_object: ssl.SSLObject) -> str | None:
        """Why a TLS peer's certificate is unacceptable, or None. OpenSSL verified its
        chain to an OEM root; Python 3.11 shows only the leaf, which must be valid now
        (the clock's time) and carry the OEM provisioning certificate's key usages."""
        der = client_certificate(ssl_object)
        if der is None:
            return None
        try:
            check_leaf(
                x509.load_der_x509_certificate(der),
                Role.OEM_LEAF,
                self.store.profile(),
                self._clock.now(),
            )
        except ChainError as error:
            return f"EV certificate: {error}"
        return None

    def check_provisioning_certificate(self, leaf: bytes) -> ContractVerdict:
        """-2 CertificateInstallationReq: the EV's OEM provisioning certificate (sent
        alone) completed with the configured OEM sub-CAs and verified to the OEM root."""
        try:
            certificate = x509.load_der_x509_certificate(leaf)
            verify_chain(
                certificate,
                [self.store.certificate(r) for r in (Role.OEM_SUB_CA2, Role.OEM_SUB_CA1)],
                [self.store.certificate(Role.OEM_ROOT)],
                self._clock.now(),
                role=Role.OEM_LEAF,
                profile=self.store.profile(),
            )
        except ValueError as error:
            return ContractVerdict(None, Failure.EMPTY, f"unreadable certificate: {error}")
        except ChainError as error:
            return ContractVerdict(None, error.failure, f"OEM provisioning certificate: {error}")
        return ContractVerdict(None, None, "OEM provisioning certificate verified")

    def check_contract_der(self, leaf: bytes, sub_cas: list[bytes]) -> ContractVerdict:
        try:
            certs = [x509.load_der_x509_certificate(c) for c in [leaf, *sub_cas]]
        except ValueError as error:
            return ContractVerdict(None, Failure.EMPTY, f"unreadable certificate: {error}")
        return self.check_contract(certs[0], certs[1:])

    def check_contract_pem(self, pem: bytes, claimed_emaid: str | None = None) -> ContractVerdict:
        """A chain as iso15118 hands it to ``is_authorized`` (PEM, leaf first; the root
        may follow); ``claimed_emaid``, the EMAID the EV sent beside it, must be the
        one the contract certificate carries."""
        try:
            certs = parse_certificates(pem, "contract chain")
        except StoreError as error:
            return ContractVerdict(None, Failure.EMPTY, str(error))
        verdict = self.check_contract(certs[0], certs[1:])
        if verdict.accepted and claimed_emaid is not None:
            try:
                claimed = normalise_emaid(claimed_emaid)
            except EmaidError as error:
                return ContractVerdict(None, Failure.SUBJECT, f"wrong subject: {error}")
            if claimed != verdict.emaid:
                return ContractVerdict(
                    None,
                    Failure.SUBJECT,
                    f"wrong subject: the EV claims EMAID {claimed}, its contract is for "
                    f"{verdict.emaid}",
                )
        return verdict

    def package_pki_path(self) -> Path:
        """The PKI folder in the layout the iso15118 package reads (see
        :func:`package_pki_path`)."""
        return package_pki_path(self.store, self.passphrase)


def package_pki_path(store: PkiStore, passphrase: bytes | None) -> Path:
    """A private folder in the layout iso15118 reads (``iso15118_2/certs``, keys and
    their password files), pointing at ``store``. The package's -2 certificate
    installation (which plays the CPS from these files), its EVCC and its own first
    chain check read it. Remove it with :func:`remove_package_pki_path`."""
    root = Path(tempfile.mkdtemp(prefix="v2g-iso15118-pki-"))
    folder = root / "iso15118_2"
    keys = folder / "private_keys"
    keys.mkdir(parents=True, mode=0o700)
    (folder / "certs").symlink_to(store.certs.resolve())
    for key in store.private_keys.glob("*.key"):
        (keys / key.name).symlink_to(key.resolve())
    # The package reads every key's passphrase from a file beside it ("12345" by
    # default); they live in this 0700 folder, 0600, and go with it.
    secret = (passphrase or b"").decode()
    for name in (
        "seccLeafPassword.txt",
        "oemLeafPassword.txt",
        "contractLeafPassword.txt",
        "cpsLeafPassword.txt",
        "moSubCA2LeafPassword.txt",
    ):
        descriptor = os.open(keys / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secret + "\n")
    return root


def remove_package_pki_path(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


_V20_CODES = {
    Failure.EXPIRED: "WARN_CERT_EXPIRED",
    Failure.NOT_YET_VALID: "WARN_CERT_NOT_YET_VALID",
    Failure.REVOKED: "WARN_CERT_REVOKED",
}


def response_code_v2(failure: Failure) -> Any:
    """The ISO 15118-2 PaymentDetailsRes code for a rejected chain (Table 112 of
    ISO 15118-2 lists what PaymentDetailsRes may carry)."""
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode

    if failure in (Failure.EXPIRED, Failure.NOT_YET_VALID):
        return ResponseCode.FAILED_CERTIFICATE_EXPIRED
    if failure is Failure.REVOKED:
        return ResponseCode.FAILED_CERTIFICATE_REVOKED
    if failure is Failure.BAD_SIGNATURE:
        return ResponseCode.FAILED_SIGNATURE_ERROR
    return ResponseCode.FAILED


def response_code_v20(failure: Failure) -> Any:
    """The ISO 15118-20 AuthorizationRes code for a rejected chain (Table 224)."""
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode

    return getattr(ResponseCode, _V20_CODES.get(failure, "WARN_CERT_VALIDATION_ERROR"))
