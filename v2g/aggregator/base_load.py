"""The base-load forecast in the running service: learned from the store's readings
on a schedule, handed to the planner (its grid rows take the P90 factor), and kept
for the API (v2g.forecast.baseload)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Protocol

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.state import SetBaseLoad
from v2g.forecast.baseload import PLAN_QUANTILE, BaseLoadOutlook, TooLittleHistory, outlook

logger = logging.getLogger(__name__)

#: How much history a forecast learns from (a year, and a week to start on a Monday).
HISTORY = timedelta(weeks=53)


class BaseLoadReadings(Protocol):
    async def since(self, start: datetime) -> list[tuple[datetime, float]]: ...


class BaseLoadLearning:
    """``latest`` is the last forecast; ``status`` says what it was learned from, or
    why there is none (the planner then keeps the base load it had)."""

    def __init__(self, readings: BaseLoadReadings, aggregator: Aggregator) -> None:
        self._readings = readings
        self._aggregator = aggregator
        self.latest: BaseLoadOutlook | None = None
        self.learned_at: datetime | None = None
        self.status = "not learned yet"

    async def learn_once(self) -> None:
        now = self._aggregator.clock.now()
        try:
            readings = await self._readings.since(now - HISTORY)
            # Three quantiles of trees over up to a year of quarter hours: seconds.
            found = await asyncio.to_thread(outlook, readings, now)
        except TooLittleHistory as error:
            self.status = f"not learned: {error}"
            return
        except Exception as error:  # the service goes on with the curve it had
            logger.exception("base-load forecast")
            self.status = f"failed at {now.isoformat()}: {error}"[:300]
            return
        outcome = self._aggregator.submit(SetBaseLoad(found.curve(PLAN_QUANTILE)))
        self.latest, self.learned_at = found, now
        self.status = f"learned from {found.basis}; the plan takes P90 ({outcome.reason})"

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.learn_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
