"""The arrivals the site's history foresees, in the running service: learned from the
store's sessions on a schedule and handed to the planner, which counts the cars that
usually come as expected arrivals (v2g.fleet.foreseen, decision 104)."""

from __future__ import annotations

import asyncio
import logging

from v2g.aggregator.cycle import Aggregator, sweeping
from v2g.aggregator.offers import HISTORY, UsageRecords, session_history
from v2g.aggregator.state import SetArrivalProfile
from v2g.forecast.sessions import TooLittleHistory, learn

logger = logging.getLogger(__name__)


class ArrivalLearning:
    """``status`` says what the planner foresees from, or why it foresees nothing yet."""

    def __init__(self, records: UsageRecords, aggregator: Aggregator) -> None:
        self._records = records
        self._aggregator = aggregator
        self.status = "not learned yet"

    async def learn_once(self) -> None:
        now = self._aggregator.clock.now()
        history = await session_history(self._records, self._aggregator)
        try:
            # Trees over up to 90 days of sessions: off the event loop.
            forecast = await asyncio.to_thread(learn, history, now, (0.5,), HISTORY.days)
        except TooLittleHistory as error:
            self.status = f"nothing foreseen: {error}"
            return
        outcome = self._aggregator.submit(SetArrivalProfile(forecast.profile()))
        self.status = outcome.reason
        logger.info("planner: %s", outcome.reason)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await sweeping(self.learn_once, "foreseeing arrivals", interval_s, stop, asyncio.Event())
