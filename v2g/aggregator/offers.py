"""Day-ahead offers from the store's session history and the fleet plugged in now:
one way for the API, the VEN's assessments and its reports (v2g.forecast.offer)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol

from v2g.aggregator.cycle import Aggregator
from v2g.forecast.history import past_sessions, plugged_now
from v2g.forecast.offer import Offer, PastSession, day_ahead_offer
from v2g.usage import MeterSample, SessionSpan

HISTORY = timedelta(days=90)


class UsageRecords(Protocol):
    async def usage_records(
        self, start: datetime, end: datetime
    ) -> tuple[list[SessionSpan], list[MeterSample]]: ...


class StoreOffers:
    """Day-ahead offers from a store's history and an aggregator's fleet (the VEN's
    ``offers``): one window, or each hour of a day."""

    def __init__(self, records: UsageRecords, aggregator: Aggregator) -> None:
        self._records = records
        self._aggregator = aggregator

    async def offer(self, start: datetime, end: datetime, confidence: float) -> Offer:
        return await offer_from_history(self._records, self._aggregator, start, end, confidence)

    async def hourly(self, day: datetime, confidence: float) -> list[Offer]:
        """The 24 one-hour offers from ``day`` on (a utility calls an hour, not a day:
        each hour's offer is what can be held through that hour)."""
        now = self._aggregator.clock.now()
        history = await session_history(self._records, self._aggregator)
        plugged = plugged_now(self._aggregator.state.fleet, now)

        def each_hour() -> list[Offer]:
            starts = [day + timedelta(hours=h) for h in range(24)]
            return [
                day_ahead_offer(history, plugged, t, t + timedelta(hours=1), confidence, now)
                for t in starts
            ]

        return await asyncio.to_thread(each_hour)


async def session_history(records: UsageRecords, aggregator: Aggregator) -> list[PastSession]:
    """The site's sessions of the last ``HISTORY``."""
    now = aggregator.clock.now()
    spans, samples = await records.usage_records(now - HISTORY, now)
    return past_sessions(spans, samples, aggregator.site.chargers)


async def offer_from_history(
    records: UsageRecords,
    aggregator: Aggregator,
    start: datetime,
    end: datetime,
    confidence: float,
) -> Offer:
    """The offer for ``start``..``end`` made now (ValueError for a bad window)."""
    now = aggregator.clock.now()
    history = await session_history(records, aggregator)
    plugged = plugged_now(aggregator.state.fleet, now)
    # Hundreds of resampled days: off the event loop that answers the vehicles.
    return await asyncio.to_thread(day_ahead_offer, history, plugged, start, end, confidence, now)
