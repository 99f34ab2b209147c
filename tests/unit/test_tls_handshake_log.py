"""A failed TLS handshake leaves one line in the SECC's log with its reason (issue 21):
asyncio drops a failed server-side handshake silently outside debug mode."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import ssl
from datetime import UTC, datetime

import pytest

from pki.profiles import PROFILES, Role
from pki.store import PkiStore
from pki.testpki import build_test_pki
from pki.tls import evcc_context, secc_context
from v2g.secc.iso15118_hooks import log_failed_handshakes


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> PkiStore:
    store = PkiStore(tmp_path_factory.mktemp("pki"))
    for role, credential in build_test_pki(PROFILES["iso2"], datetime.now(UTC)).items():
        store.write_credential(role, credential, None)
    store.write_manifest("iso2", None)
    store.write_bundles()
    return store


def server_context(store: PkiStore) -> ssl.SSLContext:
    context = secc_context(
        store.chain_path(Role.SECC_LEAF),
        store.key_path(Role.SECC_LEAF),
        None,
        tls12=True,
        tls13=False,
        client_anchor_files=[],
    )
    log_failed_handshakes(context)
    return context


def tls_client(client: ssl.SSLContext, port: int) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        pytest.raises(ssl.SSLError),
    ):
        client.wrap_socket(raw).do_handshake()


async def connect(context: ssl.SSLContext, client: ssl.SSLContext | None, raw: bytes) -> None:
    """One client against an asyncio TLS server: a TLS client (``client``) or one that
    writes ``raw`` bytes; returns once the server side has given up or completed."""
    served = asyncio.Event()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        served.set()
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        if client is not None:
            # A blocking client (as OpenSSL EVs are): it sends its alert before closing.
            await asyncio.to_thread(tls_client, client, port)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            writer.write_eof()  # and nothing more: the server gives up
            await writer.drain()
            await reader.read()
            writer.close()
        await asyncio.sleep(0.1)
    finally:
        server.close()
        await server.wait_closed()
        gc.collect()


async def test_an_ev_that_does_not_trust_the_secc_leaves_one_line_with_the_reason(
    store, tmp_path, caplog
):
    """The EV aborts with an alert (its trust anchor is another PKI's root)."""
    other = PkiStore(tmp_path / "other")
    for role, credential in build_test_pki(PROFILES["iso2"], datetime.now(UTC)).items():
        other.write_credential(role, credential, None)
    client = evcc_context(other.cert_path(Role.V2G_ROOT), tls13=False)
    with caplog.at_level(logging.ERROR, logger="v2g.secc.iso15118_hooks"):
        await connect(server_context(store), client, b"")
    lines = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "UNKNOWN_CA" in lines[0].upper() or "ALERT" in lines[0].upper(), lines


async def test_a_client_speaking_no_tls_leaves_one_line_with_the_reason(store, caplog):
    with caplog.at_level(logging.ERROR, logger="v2g.secc.iso15118_hooks"):
        await connect(server_context(store), None, b"\x01\xfe\x80\x01\x00\x00\x00\x02\x10\x00")
    lines = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "WRONG_VERSION_NUMBER" in lines[0].upper() or "RECORD" in lines[0].upper(), lines


async def test_a_client_that_closes_mid_handshake_leaves_one_line(store, caplog):
    """asyncio ends a handshake on EOF without asking the TLS object: the line comes
    when the unfinished handshake is dropped with its connection."""
    hello_start = b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03"  # a ClientHello, cut short
    with caplog.at_level(logging.ERROR, logger="v2g.secc.iso15118_hooks"):
        await connect(server_context(store), None, hello_start + bytes(32))
    lines = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert lines == [
        "TLS handshake failed: the connection closed before the handshake completed"
    ], lines
