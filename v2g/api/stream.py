"""``GET /api/v1/stream``: a WebSocket of plan and fleet updates, one JSON message per
published snapshot (the latest at once on connect)."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from v2g.api.services import services

#: The subprotocol the server speaks; a browser offers it beside ``bearer.<token>``.
SUBPROTOCOL = "v2g.stream"


async def stream(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(protocols=(SUBPROTOCOL,), heartbeat=30.0)
    await socket.prepare(request)
    feed = services(request).feed
    queue = feed.subscribe()
    reader = asyncio.create_task(_drain(socket))
    waiting: asyncio.Task[str] | None = None
    try:
        while not socket.closed:
            waiting = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({waiting, reader}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in done:
                break
            try:
                await socket.send_str(waiting.result())
            except ConnectionResetError:  # the dashboard went away: not an error
                break
    finally:
        feed.unsubscribe(queue)
        # Both tasks end here, even when the handler itself is cancelled (a client
        # that vanished): a task left pending is logged as destroyed at shutdown.
        tasks = [task for task in (waiting, reader) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await socket.close()
    return socket


async def _drain(socket: web.WebSocketResponse) -> None:
    """Reads (and ignores) what the client sends, until it closes."""
    async for message in socket:
        if message.type == WSMsgType.ERROR:
            break
