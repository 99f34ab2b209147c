"""The open bookings handed to the planner as expected arrivals (issue 15): tonight's
plan and a DR assessment count a booked car's need before it comes
(``v2g.fleet.expected``). Read from the store on a sweep and whenever a booking is
made or cancelled; the planner hears only of changes."""

from __future__ import annotations

import asyncio
from typing import Protocol

from v2g.aggregator.cycle import Aggregator, sweeping
from v2g.aggregator.state import SetExpected
from v2g.drivers import Reservation
from v2g.drivers.reservations import expected_arrival
from v2g.fleet import ExpectedArrival


class OpenBookings(Protocol):
    async def open_bookings(self, evse_id: str | None = None) -> list[Reservation]: ...


class BookedArrivals:
    """Keeps the aggregator's expected arrivals equal to the store's open bookings."""

    def __init__(self, bookings: OpenBookings, aggregator: Aggregator) -> None:
        self._bookings = bookings
        self._aggregator = aggregator
        self._told: tuple[ExpectedArrival, ...] | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A booking was made or cancelled: the planner hears of it now."""
        self._wake.set()

    async def refresh(self) -> None:
        chargers = self._aggregator.site.chargers
        bookings = sorted(await self._bookings.open_bookings(), key=lambda b: b.reservation_id)
        expected = tuple(
            expected_arrival(b, chargers[b.evse_id]) for b in bookings if b.evse_id in chargers
        )
        if expected != self._told:
            self._aggregator.submit(SetExpected(expected))
            self._told = expected

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        what = "handing bookings to the planner"
        await sweeping(self.refresh, what, interval_s, stop, self._wake)
