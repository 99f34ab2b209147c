"""The TCP guard in front of iso15118's SECC, on real loopback sockets and the
package's own TCPServer: one connection holds an EVSE at a time, and an idle one
is closed without ever reaching the package (so it never pauses SDP)."""

from __future__ import annotations

import asyncio

import pytest
from iso15118.secc.transport.tcp_server import TCPServer
from iso15118.shared.notifications import TCPClientNotification

from v2g.secc.iso15118_hooks import install_connection_guard
from v2g.secc.v2gtp import frame

#: The first bytes of EVs: V2GTP SupportedAppProtocolReq frames (payloads stand-ins).
SAP = frame(0x8001, b"SupportedAppProtocolReq")
SAP_A = frame(0x8001, b"A")
SAP_B = frame(0x8001, b"B")

FIRST_MESSAGE_S = 0.3


@pytest.fixture
async def secc(monkeypatch):
    """The package's TCPServer behind the guard, listening on 127.0.0.1; yields its
    notification queue (what the package's session handler would see) and port."""
    monkeypatch.setattr(TCPServer, "__call__", TCPServer.__call__)  # restored after
    install_connection_guard(first_message_s=FIRST_MESSAGE_S, quiet_limit_s=1.0)
    install_connection_guard(first_message_s=FIRST_MESSAGE_S, quiet_limit_s=1.0)  # no stacking
    queue: asyncio.Queue[object] = asyncio.Queue()
    tcp = TCPServer(queue, "lo")
    server = await asyncio.start_server(tcp, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield queue, port, tcp
    # What the package would close at the end of its sessions, and the EVs' ends.
    for connection in tcp.__dict__.get("_v2g_connections", []):
        connection.writer.close()
    for writer in HANDED_OVER + CLIENTS:
        writer.close()
    HANDED_OVER.clear()
    CLIENTS.clear()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.05)


HANDED_OVER: list[asyncio.StreamWriter] = []
CLIENTS: list[asyncio.StreamWriter] = []


async def connect(port: int, first: bytes | None):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    CLIENTS.append(writer)
    if first is not None:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def closed_by_secc(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), timeout=2) == b""
    except ConnectionError:
        return True


async def handed_over(queue: asyncio.Queue[object]) -> TCPClientNotification:
    notification = await asyncio.wait_for(queue.get(), timeout=2)
    assert isinstance(notification, TCPClientNotification)
    HANDED_OVER.append(notification.transport[1])
    return notification


async def test_a_second_connection_during_a_session_never_reaches_the_package(secc):
    queue, port, _ = secc
    _, ev_writer = await connect(port, SAP)
    live = await handed_over(queue)
    assert await live.transport[0].read(100) == SAP  # nothing lost

    intruder_reader, intruder_writer = await connect(port, SAP)
    assert await closed_by_secc(intruder_reader)
    assert queue.empty()  # the live session was never told: no reset

    ev_writer.write(b"CurrentDemandReq")  # the live session carries on
    await ev_writer.drain()
    assert await asyncio.wait_for(live.transport[0].read(100), 2) == b"CurrentDemandReq"
    ev_writer.close()
    intruder_writer.close()


async def test_after_the_session_ends_the_next_vehicle_gets_through(secc):
    queue, port, _ = secc
    _, first = await connect(port, SAP_A)
    live = await handed_over(queue)
    first.close()
    assert await asyncio.wait_for(live.transport[0].read(100), 2) == SAP_A
    assert await asyncio.wait_for(live.transport[0].read(10), 2) == b""  # EOF relayed
    live.transport[1].close()
    _, second = await connect(port, SAP_B)
    assert await asyncio.wait_for((await handed_over(queue)).transport[0].read(100), 2) == SAP_B
    second.close()


async def test_an_idle_connection_is_closed_unseen_and_does_not_block_the_next_ev(secc):
    queue, port, _ = secc
    idle_reader, idle_writer = await connect(port, None)
    _, ev_writer = await connect(port, SAP)  # while the idle one waits
    assert (await handed_over(queue)).transport is not None
    assert await closed_by_secc(idle_reader)
    assert queue.empty()
    idle_writer.close()
    ev_writer.close()


async def test_a_connection_quiet_past_the_sequence_timeout_no_longer_holds_the_evse(secc):
    queue, port, _ = secc
    _, silent = await connect(port, SAP_A)
    await handed_over(queue)
    await asyncio.sleep(1.1)  # quiet_limit_s of the fixture
    _, next_ev = await connect(port, SAP_B)
    await handed_over(queue)
    silent.close()
    next_ev.close()


async def test_data_after_the_package_ended_the_stream_is_dropped_quietly(secc):
    """iso15118's close_session feeds EOF into the reader itself; the EV may still send."""
    queue, port, tcp = secc
    _, ev_writer = await connect(port, SAP_A)
    live = await handed_over(queue)
    live.transport[0].feed_eof()
    ev_writer.write(b"more")
    await ev_writer.drain()
    ev_writer.close()
    [connection] = tcp.__dict__["_v2g_connections"]
    assert connection.relay is not None
    await asyncio.wait_for(connection.relay, timeout=2)  # ends, raises nothing


@pytest.mark.parametrize(
    "first",
    [b"GET / HTTP/1.1\r\n", b"\x01\xfe\x80\x02", b"\x02", b"\x01\xfe\x90\x00\x00\x00\x00\x02"],
    ids=["http", "minus-20-type", "wrong-version", "sdp-type"],
)
async def test_a_first_message_that_is_no_sap_frame_never_reaches_the_package(secc, first, caplog):
    queue, port, _ = secc
    reader, _ = await connect(port, first)
    assert await closed_by_secc(reader)
    assert queue.empty()  # no session, no 5 s linger, SDP never paused
    assert caplog.text.count("do not start a V2GTP SupportedAppProtocolReq") == 1


async def test_a_sap_header_sent_a_byte_at_a_time_is_let_through(secc):
    queue, port, _ = secc
    _, writer = await connect(port, SAP[:1])
    live = await handed_over(queue)
    writer.write(SAP[1:])
    await writer.drain()
    assert await asyncio.wait_for(live.transport[0].readexactly(len(SAP)), 2) == SAP
    writer.close()
