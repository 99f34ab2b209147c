"""A PKI folder on disk: certificates (PEM and DER), private keys (0600), chain files.

The file names are those of the iso15118 package's ``create_certs.sh`` (e.g.
``certs/seccLeafCert.pem``, ``private_keys/seccLeaf.key``, ``certs/cpoCertChain.pem``),
so either tool's output can be read by the other. ``pki.json`` records the profile and,
when keys are encrypted, the *name* of the environment variable holding the passphrase
(never the passphrase).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from pki.issue import Credential
from pki.keys import KeyReadError, load_private_key, private_key_pem
from pki.profiles import ISSUER, PROFILES, PkiProfile, ProfileName, Role

#: Chain files a TLS peer presents: leaf first, then sub-CA 2 and sub-CA 1.
CHAIN_FILES = {Role.SECC_LEAF: "cpoCertChain.pem", Role.OEM_LEAF: "oemCertChain.pem"}
#: Sub-CA bundles (sub-CA 2 first), as the package's script writes them.
INTERMEDIATE_FILES = {
    Role.CONTRACT_LEAF: "intermediateMOCACerts.pem",
    Role.CPS_LEAF: "intermediateCPSCACerts.pem",
}


class StoreError(ValueError):
    """A PKI folder that cannot be read or written as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class PkiStore:
    """A PKI folder: ``root/certs``, ``root/private_keys`` and ``root/pki.json``."""

    root: Path

    @property
    def certs(self) -> Path:
        return self.root / "certs"

    @property
    def private_keys(self) -> Path:
        return self.root / "private_keys"

    def cert_path(self, role: Role, suffix: str = "pem") -> Path:
        return self.certs / f"{role.value}Cert.{suffix}"

    def key_path(self, role: Role) -> Path:
        return self.private_keys / f"{role.value}.key"

    def chain_path(self, role: Role) -> Path:
        return self.certs / CHAIN_FILES[role]

    # -- reading ---------------------------------------------------------------------

    def manifest(self) -> dict[str, str]:
        try:
            data = json.loads((self.root / "pki.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise StoreError(f"cannot read {self.root / 'pki.json'}: {error}") from error
        return {str(k): str(v) for k, v in data.items()}

    def profile(self) -> PkiProfile:
        name = self.manifest().get("profile", "iso2")
        if name not in PROFILES:
            raise StoreError(f"{self.root}: unknown profile {name!r}")
        return PROFILES[name]

    def passphrase(self, environ: Mapping[str, str]) -> bytes | None:
        """The key passphrase from the environment variable ``pki.json`` names."""
        variable = self.manifest().get("passphrase_env")
        if not variable:
            return None
        value = environ.get(variable)
        if not value:
            raise StoreError(f"keys in {self.root} are encrypted; set {variable}")
        return value.encode()

    def certificate(self, role: Role) -> x509.Certificate:
        return read_certificates(self.cert_path(role))[0]

    def credential(self, role: Role, environ: Mapping[str, str]) -> Credential:
        path = self.key_path(role)
        try:
            key = load_private_key(path.read_bytes(), self.passphrase(environ))
        except OSError as error:
            raise StoreError(f"cannot read {path}: {error.strerror}") from error
        except KeyReadError as error:
            raise StoreError(f"{path}: {error}") from error
        return Credential(self.certificate(role), key)

    # -- writing ---------------------------------------------------------------------

    def write_manifest(self, profile: ProfileName, passphrase_env: str | None) -> None:
        data: dict[str, str] = {"profile": profile}
        if passphrase_env:
            data["passphrase_env"] = passphrase_env
        self.root.mkdir(parents=True, exist_ok=True)
        _write(self.root / "pki.json", json.dumps(data, indent=2).encode() + b"\n", 0o644)

    def write_credential(
        self, role: Role, credential: Credential, passphrase: bytes | None
    ) -> None:
        """Certificate as PEM and DER (0644), key as PKCS#8 PEM (0600, in a 0700 folder)."""
        self.certs.mkdir(parents=True, exist_ok=True)
        self.private_keys.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.private_keys, 0o700)
        certificate = credential.certificate
        _write(self.cert_path(role), certificate.public_bytes(Encoding.PEM), 0o644)
        _write(self.cert_path(role, "der"), certificate.public_bytes(Encoding.DER), 0o644)
        _write(self.key_path(role), private_key_pem(credential.key, passphrase), 0o600)

    def write_bundles(self) -> None:
        """The chain and sub-CA bundle files, from the certificates in the folder."""
        for leaf, name in CHAIN_FILES.items():
            roles = [leaf, *_sub_cas(leaf)]
            self._bundle(name, roles)
        for leaf, name in INTERMEDIATE_FILES.items():
            self._bundle(name, _sub_cas(leaf))

    def _bundle(self, name: str, roles: list[Role]) -> None:
        if all(self.cert_path(r).exists() for r in roles):
            pem = b"".join(self.cert_path(r).read_bytes() for r in roles)
            _write(self.certs / name, pem, 0o644)


def _sub_cas(leaf: Role) -> list[Role]:
    """The sub-CAs above ``leaf``, nearest first (sub-CA 2, then sub-CA 1)."""
    roles: list[Role] = []
    issuer = ISSUER[leaf]
    while issuer is not None and ISSUER[issuer] is not None:
        roles.append(issuer)
        issuer = ISSUER[issuer]
    return roles


def _write(path: Path, data: bytes, mode: int) -> None:
    # Create with the final mode so a key is never readable by others, even briefly;
    # fchmod too because O_CREAT's mode does not apply to an existing file.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM (one or more) or DER file, in file order."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StoreError(f"cannot read {path}: {error.strerror}") from error
    return parse_certificates(data, str(path))


def parse_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as error:
        raise StoreError(f"{source} holds no readable certificate: {error}") from error
