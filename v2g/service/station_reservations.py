"""Bookings told to the OCPP station that holds their EVSE (issue 15).

A booking holds its EVSE from its start, so its station is told then, not when the
booking is made: a station that got ReserveNow at booking time would keep the EVSE
from that moment on. ReserveNow carries the driver's token and expires at the
booking's end; the station then lets only that token charge there. A booking that was
told and then ends early (cancelled, or released as a no-show: nobody plugged in
within its grace) is cancelled at the station with CancelReservation.

What the station answered is kept per booking and shown on the reservation: a refusal
(Occupied, Faulted, Rejected, Unavailable) or an unreachable station does not lose the
booking; the SECC in this process and the planner still count it. Each sweep tries
again for a booking its station has not accepted yet.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Protocol

from v2g.aggregator.cycle import sweeping
from v2g.clock import Clock
from v2g.drivers import ACCEPTED, BOOKED, CANCELLED, NO_SHOW, Reservation, decide
from v2g.drivers.reservations import CLOCK_SKEW, NO_SHOW_GRACE, StationAnswer
from v2g.ocpp.csms import CallFailed, Csms, StationOffline
from v2g.ocpp.operations import MAX_ID, ocpp_call
from v2g.ocpp.schemas import PayloadError
from v2g.store.drivers import SqlDriverStore

logger = logging.getLogger(__name__)


def ocpp_reservation_id(reservation_id: str) -> int:
    """The booking's OCPP reservation id: a 32-bit number from its own id, the same
    after a restart (so a repeated ReserveNow replaces, never duplicates)."""
    return int(reservation_id[:8], 16) % MAX_ID or 1


class SessionStarts(Protocol):
    async def started_at(self, evse_id: str, since: datetime, until: datetime) -> bool:
        """Whether a session started at ``evse_id`` between ``since`` and ``until``."""
        ...


class StationReservations:
    """Tells stations of the bookings on their EVSEs (see the module docstring)."""

    def __init__(
        self, drivers: SqlDriverStore, csms: Csms, sessions: SessionStarts, clock: Clock
    ) -> None:
        self._drivers = drivers
        self._csms = csms
        self._sessions = sessions
        self._clock = clock
        self._answers: dict[str, StationAnswer] = {}
        # Bookings a station accepted and still holds (not cancelled there yet).
        self._held: set[str] = set()
        self._wake = asyncio.Event()

    def answer(self, reservation_id: str) -> StationAnswer | None:
        return self._answers.get(reservation_id)

    def wake(self) -> None:
        """Sweep now (a booking was made or cancelled: one starting now is told now)."""
        self._wake.set()

    async def sweep(self) -> None:
        """One pass over the open bookings and those a station still holds: reserve
        what started, cancel what a station holds in vain."""
        now = self._clock.now()
        bookings = await self._drivers.open_bookings()
        open_ids = {b.reservation_id for b in bookings}
        for reservation_id in self._held - open_ids:  # closed since a station took it
            closed = await self._drivers.reservation(reservation_id)
            if closed is not None:
                bookings.append(closed)
        for booking in bookings:
            if self._csms.station_evse(booking.evse_id) is not None:
                await self._tell(booking, now)

    async def _tell(self, booking: Reservation, now: datetime) -> None:
        """What ``booking``'s station must hear now, if anything."""
        if booking.status == BOOKED and booking.start - CLOCK_SKEW <= now < booking.end:
            since = booking.start - NO_SHOW_GRACE
            plugged = await self._sessions.started_at(booking.evse_id, since, now)
            settled = await self._drivers.settle(booking, now, plugged)
            if settled.status == BOOKED and settled.reservation_id not in self._held:
                await self._reserve(settled, now)
            booking = settled
        if booking.status in (CANCELLED, NO_SHOW) and booking.reservation_id in self._held:
            await self._cancel(booking, now)
        elif booking.status != BOOKED:
            self._held.discard(booking.reservation_id)  # used: the station consumed it

    async def _reserve(self, booking: Reservation, now: datetime) -> None:
        token = await self._token_of(booking.driver_id, now)
        if token is None:
            self._answers[booking.reservation_id] = StationAnswer(
                "ReserveNow", f"not sent: driver {booking.driver_id} has no valid token", now
            )
            return
        body = {
            "operation": "reserve_now",
            "evse_id": booking.evse_id,
            "id_token": token[1],
            "id_token_type": token[0],
            "expires_at": booking.end.isoformat(),
            "reservation_id": ocpp_reservation_id(booking.reservation_id),
        }
        await self._send(booking, body, now)

    async def _cancel(self, booking: Reservation, now: datetime) -> None:
        body = {
            "operation": "cancel_reservation",
            "reservation_id": ocpp_reservation_id(booking.reservation_id),
        }
        await self._send(booking, body, now)

    async def _send(self, booking: Reservation, body: dict[str, Any], now: datetime) -> None:
        where = self._csms.station_evse(booking.evse_id)
        assert where is not None  # checked by the sweep
        call = ocpp_call(where[0], body, self._csms, self._csms.new_operation_id, now)
        try:
            answer = await self._csms.call(call.station_id, call.action, call.payload)
            status = str(answer.get("status", "answered"))
        except (StationOffline, CallFailed, PayloadError) as error:
            status = f"not delivered: {error}"
        except TimeoutError:
            status = "not delivered: no answer"
        if status != ACCEPTED:
            logger.warning("booking %s: %s %s", booking.reservation_id, call.action, status)
        self._answers[booking.reservation_id] = StationAnswer(call.action, status, now)
        if call.action == "ReserveNow" and status == ACCEPTED:
            self._held.add(booking.reservation_id)
        elif call.action == "CancelReservation" and status in (ACCEPTED, "Rejected"):
            self._held.discard(booking.reservation_id)  # Rejected: the station holds none

    async def _token_of(self, driver_id: str, now: datetime) -> tuple[str, str] | None:
        """The driver's first token that may charge now (the rule of every door), as
        (OCPP type, value)."""
        driver = await self._drivers.driver(driver_id)
        blocked = driver is None or driver.blocked
        for record in await self._drivers.tokens_of(driver_id):
            if decide(record, blocked, now).accepted:
                return record.token_type, record.value
        return None

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Sweeps every ``interval_s`` until ``stop`` is set; a failing sweep is logged
        and the next one goes on."""
        await sweeping(self.sweep, "telling stations of bookings", interval_s, stop, self._wake)
