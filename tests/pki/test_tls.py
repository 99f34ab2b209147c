"""TLS contexts from a PKI folder: TLS 1.2 for -2, TLS 1.3 with mutual auth for -20."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from pki.profiles import PROFILES, Role
from pki.store import PkiStore
from pki.testpki import build_test_pki
from pki.tls import (
    TlsSetupError,
    client_certificate,
    evcc_context,
    requires_client_certificate,
    secc_context,
)


def folder(
    tmp_path, profile: str, algorithm: str | None = None, passphrase: bytes | None = None
) -> PkiStore:
    store = PkiStore(tmp_path / f"{profile}-{algorithm}")
    made = build_test_pki(PROFILES[profile], datetime.now(UTC), key_algorithm=algorithm)
    store.write_manifest(profile, "PASS" if passphrase else None)
    for role, credential in made.items():
        store.write_credential(role, credential, passphrase)
    store.write_bundles()
    return store


def server_for(
    store: PkiStore, *, tls12: bool, tls13: bool, passphrase: bytes | None = None
) -> ssl.SSLContext:
    return secc_context(
        store.chain_path(Role.SECC_LEAF),
        store.key_path(Role.SECC_LEAF),
        passphrase,
        tls12=tls12,
        tls13=tls13,
        client_anchor_files=[store.cert_path(Role.OEM_ROOT)] if tls13 else [],
    )


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> tuple[dict, float]:
    """One handshake over a local socket pair: what the server saw, and how long it took."""
    left, right = socket.socketpair()
    seen: dict = {}

    def serve() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                seen.update(
                    version=tls.version(),
                    cipher=tls.cipher()[0],
                    mutual=requires_client_certificate(tls),
                    client_cert=client_certificate(tls),
                )
        except (ssl.SSLError, OSError) as error:
            seen["error"] = error

    thread = threading.Thread(target=serve)
    thread.start()
    started = time.perf_counter()
    try:
        with client.wrap_socket(right) as tls:
            tls.do_handshake()
            elapsed = time.perf_counter() - started
    except (ssl.SSLError, OSError) as error:
        seen["client_error"] = error
        elapsed = time.perf_counter() - started
    thread.join(timeout=10)
    return seen, elapsed


def test_iso2_secc_negotiates_tls12_with_the_iso15118_2_suite(tmp_path):
    store = folder(tmp_path, "iso2")
    client = evcc_context(store.cert_path(Role.V2G_ROOT), tls13=False)
    seen, _ = handshake(server_for(store, tls12=True, tls13=False), client)
    assert seen["version"] == "TLSv1.2"
    assert seen["cipher"] == "ECDHE-ECDSA-AES128-SHA256"
    assert seen["client_cert"] is None


@pytest.mark.parametrize("algorithm", ["secp521r1", "ed448"])
def test_iso20_secc_negotiates_tls13_and_verifies_the_ev_certificate(tmp_path, algorithm):
    store = folder(tmp_path, "iso20", algorithm)
    client = evcc_context(
        store.cert_path(Role.V2G_ROOT),
        tls13=True,
        chain_file=store.chain_path(Role.OEM_LEAF),
        key_file=store.key_path(Role.OEM_LEAF),
    )
    seen, _ = handshake(server_for(store, tls12=False, tls13=True), client)
    assert seen["version"] == "TLSv1.3"
    assert seen["mutual"] is True
    assert seen["client_cert"] == store.certificate(Role.OEM_LEAF).public_bytes(Encoding.DER)


def test_iso20_only_secc_refuses_an_ev_without_certificate_in_the_handshake(tmp_path):
    store = folder(tmp_path, "iso20")
    client = evcc_context(store.cert_path(Role.V2G_ROOT), tls13=True)
    seen, _ = handshake(server_for(store, tls12=False, tls13=True), client)
    assert "error" in seen


def test_secc_offering_both_lets_a_tls13_ev_without_certificate_through_for_the_edge_to_close(
    tmp_path,
):
    store = folder(tmp_path, "iso20")
    client = evcc_context(store.cert_path(Role.V2G_ROOT), tls13=True)
    seen, _ = handshake(server_for(store, tls12=True, tls13=True), client)
    assert seen["mutual"] is True and seen["client_cert"] is None


def test_ev_certificate_from_an_unknown_oem_fails_the_handshake(tmp_path):
    store = folder(tmp_path, "iso20")
    other = folder(tmp_path / "other", "iso20")
    client = evcc_context(
        store.cert_path(Role.V2G_ROOT),
        tls13=True,
        chain_file=other.chain_path(Role.OEM_LEAF),
        key_file=other.key_path(Role.OEM_LEAF),
    )
    seen, _ = handshake(server_for(store, tls12=True, tls13=True), client)
    assert "error" in seen


def test_ev_refuses_a_secc_of_another_v2g_root(tmp_path):
    store = folder(tmp_path, "iso2")
    other = folder(tmp_path / "other", "iso2")
    client = evcc_context(other.cert_path(Role.V2G_ROOT), tls13=False)
    seen, _ = handshake(server_for(store, tls12=True, tls13=False), client)
    assert "client_error" in seen


def test_encrypted_secc_key_needs_its_passphrase(tmp_path):
    store = folder(tmp_path, "iso2", passphrase=b"s3cret")
    server_for(store, tls12=True, tls13=False, passphrase=b"s3cret")
    with pytest.raises(TlsSetupError, match="cannot load"):
        server_for(store, tls12=True, tls13=False, passphrase=b"wrong")


def test_tls13_without_oem_roots_is_a_setup_error(tmp_path):
    store = folder(tmp_path, "iso20")
    with pytest.raises(TlsSetupError, match="OEM roots"):
        secc_context(
            store.chain_path(Role.SECC_LEAF),
            store.key_path(Role.SECC_LEAF),
            None,
            tls12=False,
            tls13=True,
        )
