"""Day-ahead offers from the store's session history and the fleet plugged in now:
one way for the API, the VEN's assessments and its reports (v2g.forecast.offer).

What the vehicles could export is then held to the feeder: each slot's export is at
most what the site's chargers can export together within the planner's grid rows at
that slot's base-load forecast (``v2g.dispatch.grid.export_room_w``). Shedding charge
only unloads the grid, so it is not capped."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from v2g.aggregator.cycle import Aggregator
from v2g.dispatch.grid import export_room_w
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

        return await grid_capped(await asyncio.to_thread(each_hour), self._aggregator)


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
    offer = await asyncio.to_thread(day_ahead_offer, history, plugged, start, end, confidence, now)
    return (await grid_capped([offer], aggregator))[0]


async def grid_capped(offers: list[Offer], aggregator: Aggregator) -> list[Offer]:
    """``offers`` with each slot's export within the feeder's room at that slot's
    base-load factor (the rows asked on the planner's thread, at its operating point)."""
    by_bus: dict[int, float] = {}
    for charger in aggregator.site.chargers.values():
        by_bus[charger.bus] = by_bus.get(charger.bus, 0.0) + charger.max_discharge_power_w
    base_load = aggregator.state.base_load
    factor_now = base_load.at(aggregator.clock.now())
    factors = {base_load.at(s.start) for o in offers for s in o.slots}

    def rooms() -> dict[float, float]:
        return {f: export_room_w(aggregator.grid, by_bus, factor_now, f) for f in factors}

    room = await aggregator.on_planner_thread(rooms)
    capped = []
    for offer in offers:
        slots = tuple(
            replace(s, export_w=min(s.export_w, room[base_load.at(s.start)])) for s in offer.slots
        )
        held = slots != offer.slots
        basis = f"{offer.basis}; export held to the feeder's room" if held else offer.basis
        capped.append(replace(offer, slots=slots, basis=basis))
    return capped
