"""Stopping a background task without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancels ``task`` and waits until it has ended; an error it ended with is raised.

    Awaiting the task under ``suppress(CancelledError)`` cannot tell the task's
    cancellation from the caller's: a caller cancelled during that wait (a link being
    shut down while its reader ends) went on as if nothing had happened, and a
    reconnecting loop then never stopped. ``asyncio.wait`` never raises the task's
    cancellation, so what reaches the caller here is its own."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error
