"""``stop_task``: a link stopping its reader must still obey its own cancellation.

Found in CI: an OCPP station link cancelled while it was waiting for its reader to end
(just after a reset closed the socket) swallowed the cancellation, reconnected, and
the test run hung until CI's budget ran out."""

from __future__ import annotations

import asyncio

import pytest

from v2g.tasks import stop_task


async def _slow_to_end(ended: asyncio.Event) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)  # a reader closing its socket takes a moment
        ended.set()
        raise


async def test_a_caller_cancelled_while_stopping_a_task_is_cancelled() -> None:
    ended = asyncio.Event()
    reader = asyncio.create_task(_slow_to_end(ended))
    went_on = False

    async def link() -> None:
        nonlocal went_on
        await asyncio.sleep(0)
        await stop_task(reader)
        went_on = True  # what the old suppress(CancelledError) did: reconnect
        await asyncio.sleep(3600)

    running = asyncio.create_task(link())
    await asyncio.sleep(0.01)  # the link is now waiting for its reader
    running.cancel()
    await asyncio.wait({running}, timeout=5)
    assert running.cancelled()
    assert not went_on


async def test_stopping_a_task_waits_until_it_has_ended() -> None:
    ended = asyncio.Event()
    reader = asyncio.create_task(_slow_to_end(ended))
    await asyncio.sleep(0)
    await stop_task(reader)
    assert ended.is_set() and reader.cancelled()


async def test_an_error_the_task_ended_with_reaches_the_caller() -> None:
    async def failing() -> None:
        raise ConnectionResetError("peer gone")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ConnectionResetError, match="peer gone"):
        await stop_task(task)


async def test_stopping_a_task_that_already_ended_returns_at_once() -> None:
    task = asyncio.create_task(asyncio.sleep(0))
    await task
    await asyncio.wait_for(stop_task(task), timeout=1)
