"""Subscribers that do I/O are served after the answer (issue 21: the charge-loop path
free of blocking work)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from v2g.secc.event_bus import SessionEventBus, after_the_answer
from v2g.session import PowerMeasured

AT = datetime(2026, 1, 1, tzinfo=UTC)


def measured(power_w: float) -> PowerMeasured:
    return PowerMeasured("E1", "S1", AT, power_w, None)


async def test_a_deferred_subscriber_runs_after_the_publishing_step_in_order():
    bus = SessionEventBus()
    seen: list[float] = []
    bus.subscribe(after_the_answer(lambda event: seen.append(event.power_w)))
    bus.publish(measured(1.0))
    bus.publish(measured(2.0))
    assert seen == []  # the charge loop's answer is built and sent first
    await asyncio.sleep(0)
    assert seen == [1.0, 2.0]


async def test_a_deferred_subscriber_that_fails_is_logged_and_the_next_event_arrives(caplog):
    seen: list[float] = []

    def flaky(event: PowerMeasured) -> None:
        if event.power_w == 1.0:
            raise OSError("disk full")
        seen.append(event.power_w)

    bus = SessionEventBus()
    bus.subscribe(after_the_answer(flaky))
    bus.publish(measured(1.0))
    bus.publish(measured(2.0))
    await asyncio.sleep(0)
    assert seen == [2.0]
    assert "session event subscriber failed on PowerMeasured" in caplog.text


def test_outside_a_running_loop_the_subscriber_is_called_at_once():
    seen: list[float] = []
    after_the_answer(lambda event: seen.append(event.power_w))(measured(3.0))
    assert seen == [3.0]
