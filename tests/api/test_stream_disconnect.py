"""A dashboard that goes away (tab closed, network lost) is not an error: the
operator's terminal gets no traceback."""

from __future__ import annotations

import asyncio
import logging

import aiohttp


async def test_a_dashboard_that_vanishes_mid_stream_logs_no_error(api, caplog):
    caplog.set_level(logging.DEBUG)
    session = aiohttp.ClientSession()
    try:
        socket = await session.ws_connect(
            f"http://127.0.0.1:{api.client.port}/api/v1/stream",
            protocols=("v2g.stream", f"bearer.{api.tokens['viewer']}"),
        )
        await socket.receive_json(timeout=5)
        # Gone without a close frame, as when a laptop lid shuts.
        socket._response.connection.transport.abort()  # type: ignore[union-attr]
        for _ in range(5):
            await api.services.aggregator.cycle()
            await asyncio.sleep(0.05)
    finally:
        await session.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert all(r.exc_info is None for r in caplog.records if r.name.startswith("v2g"))


async def test_a_send_to_a_reset_connection_ends_the_stream_quietly(api, caplog, monkeypatch):
    async def reset(self, data, compress=None):
        raise aiohttp.ClientConnectionResetError("Cannot write to closing transport")

    monkeypatch.setattr(aiohttp.web.WebSocketResponse, "send_str", reset)
    caplog.set_level(logging.DEBUG)
    async with api.client.ws_connect(
        "/api/v1/stream", protocols=("v2g.stream", f"bearer.{api.tokens['viewer']}")
    ) as socket:
        closed = await socket.receive(timeout=5)
    await asyncio.sleep(0.2)  # the server's handler ends after the client saw the close
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
