"""Who may charge at an EVSE that a booking holds (v2g.drivers.reservations)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from v2g.drivers import (
    ACCEPTED,
    BLOCKED,
    CANCELLED,
    NOT_AT_THIS_TIME,
    USED,
    Decision,
    Reservation,
    at_booked_evse,
    holding,
)

NOW = datetime(2030, 7, 1, 18, tzinfo=UTC)
BOOKING = Reservation(
    "r1", "cyd", "E-1", NOW - timedelta(minutes=5), NOW + timedelta(hours=2), NOW, 20e3, False
)


def test_a_booking_holds_its_evse_from_its_start_to_its_end():
    assert holding([BOOKING], "E-1", NOW) == BOOKING
    assert holding([BOOKING], "E-2", NOW) is None
    assert holding([BOOKING], "E-1", BOOKING.start - timedelta(minutes=5)) is None
    assert holding([BOOKING], "E-1", BOOKING.end) is None


def test_a_booking_cancelled_used_or_past_its_grace_holds_nothing():
    assert holding([replace(BOOKING, status=CANCELLED)], "E-1", NOW) is None
    assert holding([replace(BOOKING, status=USED)], "E-1", NOW) is None
    assert holding([BOOKING], "E-1", BOOKING.start + timedelta(minutes=15)) is None


def test_only_the_bookings_driver_is_accepted_and_refusals_stay_refusals():
    ada = Decision(ACCEPTED, "ada", "driver ada")
    cyd = Decision(ACCEPTED, "cyd", "driver cyd")
    blocked = Decision(BLOCKED, "cyd", "driver cyd blocked")

    refused = at_booked_evse(ada, BOOKING)
    assert (refused.status, refused.driver_id) == (NOT_AT_THIS_TIME, "ada")
    assert "E-1 is booked by another driver until" in refused.reason
    assert at_booked_evse(cyd, BOOKING) is cyd
    assert at_booked_evse(blocked, BOOKING) is blocked
    assert at_booked_evse(ada, None) is ada
