"""Fan-out of session events to subscribers (the aggregator, a logger, a test)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from v2g.session import SessionEvent

logger = logging.getLogger(__name__)

SessionEventSink = Callable[[SessionEvent], None]


class SessionEventBus:
    """Delivers each event to every subscriber, synchronously and in order.

    A subscriber must not block (the SECC calls this from its charge loop); one that
    raises is logged and skipped, never allowed to break the session.
    """

    def __init__(self) -> None:
        self._sinks: list[SessionEventSink] = []

    def subscribe(self, sink: SessionEventSink) -> None:
        self._sinks.append(sink)

    def publish(self, event: SessionEvent) -> None:
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:
                logger.exception("session event subscriber failed on %s", type(event).__name__)


def after_the_answer(sink: SessionEventSink) -> SessionEventSink:
    """``sink`` called on the event loop's next turn instead of inside the charge loop:
    for a subscriber that does I/O (the OCPP link appends each request to its queue
    file), so the answer the event was published from goes out first. Events keep their
    order. Outside a running loop the sink is called at once."""

    def deliver(event: SessionEvent) -> None:
        try:
            sink(event)
        except Exception:
            logger.exception("session event subscriber failed on %s", type(event).__name__)

    def defer(event: SessionEvent) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            deliver(event)
            return
        loop.call_soon(deliver, event)

    return defer
