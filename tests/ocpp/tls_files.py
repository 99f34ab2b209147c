"""PKI folders and OCPP TLS credentials for the security profile tests, made with the
project's own ``pki`` (as ``v2g pki init`` and ``v2g pki issue csms|station`` do)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pki.profiles import PROFILES
from pki.store import PkiStore
from pki.testpki import build_test_pki
from v2g.ocpp.security import issue_ocpp_credential


@dataclass(frozen=True)
class OcppPki:
    """One CSO's PKI: its root (the CA both sides trust) and issued credentials."""

    folder: Path
    store: PkiStore

    @property
    def root(self) -> Path:
        return self.store.certs / "v2gRootCACert.pem"

    def chain(self, name: str) -> Path:
        return self.folder / "tls" / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.folder / "tls" / f"{name}.key"


def make_pki(folder: Path, names: tuple[str, ...]) -> OcppPki:
    """A complete test PKI in ``folder/pki`` and a CPO leaf for each of ``names``."""
    store = PkiStore(folder / "pki")
    now = datetime.now(UTC)
    store.write_manifest("iso2", None)
    for role, credential in build_test_pki(PROFILES["iso2"], now).items():
        store.write_credential(role, credential, None)
    store.write_bundles()
    for name in names:
        issue_ocpp_credential(store, name, folder / "tls", {}, now)
    return OcppPki(folder, store)
