"""Booking a charger: a driver holds one EVSE (or any free EVSE of the site) for a
window, with a departure time, an energy need and V2G consent.

Rules: no two bookings of one EVSE overlap; a booking starts in the future, lasts at
most a day and is made at most 30 days ahead; a booking nobody plugs in for within
``NO_SHOW_GRACE`` of its start is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.drivers.tokens import Decision
from v2g.fleet import Charger, ExpectedArrival

BOOKED, CANCELLED, NO_SHOW, USED = "booked", "cancelled", "no_show", "used"
#: OCPP's AuthorizationStatus for a token refused at an EVSE someone else booked.
NOT_AT_THIS_TIME = "NotAtThisTime"
MAX_LENGTH = timedelta(hours=24)
MAX_AHEAD = timedelta(days=30)
NO_SHOW_GRACE = timedelta(minutes=15)
#: A start this far in the past is still "now" (clocks of phone and server differ).
CLOCK_SKEW = timedelta(minutes=1)
MAX_ENERGY_WH = 200_000.0


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    driver_id: str
    #: None: any free EVSE of the site.
    evse_id: str | None
    start: datetime
    end: datetime
    departure: datetime
    energy_wh: float
    v2g: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: str
    driver_id: str
    evse_id: str
    start: datetime
    end: datetime
    departure: datetime
    energy_wh: float
    v2g: bool
    status: str = BOOKED

    def holds(self, start: datetime, end: datetime) -> bool:
        """Whether this booking keeps its EVSE from others between ``start`` and ``end``."""
        return self.status in (BOOKED, USED) and self.start < end and start < self.end


@dataclass(frozen=True, slots=True)
class StationAnswer:
    """What the station holding a booking's EVSE said to the last call about it
    (ReserveNow, CancelReservation): its status, or why there was none."""

    action: str
    status: str
    at: datetime


def problems(request: ReservationRequest, evse_ids: Iterable[str], now: datetime) -> list[str]:
    """Everything wrong with ``request`` (empty: it may be booked if a charger is free)."""
    found = []
    if request.evse_id is not None and request.evse_id not in set(evse_ids):
        found.append(f"evse_id: no EVSE {request.evse_id[:64]!r} at this site")
    if request.start < now - CLOCK_SKEW:
        found.append(f"start: in the past ({request.start.isoformat()})")
    if request.start - now > MAX_AHEAD:
        found.append(f"start: at most {MAX_AHEAD.days} days ahead")
    if not request.start < request.end:
        found.append("end: must be after start")
    elif request.end - request.start > MAX_LENGTH:
        found.append("end: a booking lasts at most 24 h")
    if request.departure < request.start:
        found.append("departure: must not be before start")
    if not 0 <= request.energy_wh <= MAX_ENERGY_WH:
        found.append(f"energy_wh: within 0..{MAX_ENERGY_WH:.0f}")
    return found


def free_evse(
    request: ReservationRequest, evse_ids: Sequence[str], booked: Iterable[Reservation]
) -> str | None:
    """The EVSE this request gets: its own if free, else (site-wide) the first free one."""
    held = {r.evse_id for r in booked if r.holds(request.start, request.end)}
    wanted = [request.evse_id] if request.evse_id is not None else sorted(evse_ids)
    return next((e for e in wanted if e not in held), None)


def released(reservation: Reservation, now: datetime, plugged_in: bool) -> str:
    """The status ``reservation`` has at ``now``: a booking that is still open when its
    grace runs out without a car is a no-show; one with its car is used."""
    if reservation.status != BOOKED:
        return reservation.status
    if plugged_in:
        return USED
    if now >= reservation.start + NO_SHOW_GRACE:
        return NO_SHOW
    return BOOKED


def expected_arrival(booking: Reservation, charger: Charger[int]) -> ExpectedArrival:
    """``booking`` as the planner counts it before its car comes: from its start, its
    energy by its departure; a session at its EVSE within the no-show grace of its start
    is its car, and without one it is gone when that grace runs out."""
    return ExpectedArrival(
        charger=charger,
        arrives_at=booking.start,
        departs_at=booking.departure,
        energy_wh=booking.energy_wh,
        source=f"booking {booking.reservation_id[:8]}",
        arrived_since=booking.start - NO_SHOW_GRACE,
        gone_at=booking.start + NO_SHOW_GRACE,
    )


def holding(bookings: Iterable[Reservation], evse_id: str, now: datetime) -> Reservation | None:
    """The open booking that holds ``evse_id`` at ``now``: from its start (less the
    clock skew) to its end, unless its grace ran out with nobody plugged in."""
    return next(
        (
            b
            for b in bookings
            if b.evse_id == evse_id
            and b.start - CLOCK_SKEW <= now < b.end
            and released(b, now, plugged_in=False) == BOOKED
        ),
        None,
    )


def at_booked_evse(decision: Decision, booking: Reservation | None) -> Decision:
    """``decision`` for a token at an EVSE that ``booking`` holds now (None: not booked):
    the booking's driver charges, everyone else is refused with the booking named."""
    if booking is None or not decision.accepted or decision.driver_id == booking.driver_id:
        return decision
    until = booking.end.isoformat(timespec="minutes")
    return Decision(
        NOT_AT_THIS_TIME,
        decision.driver_id,
        f"{booking.evse_id} is booked by another driver until {until}",
    )
