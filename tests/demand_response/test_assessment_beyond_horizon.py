"""An event for tomorrow reaches past the plan's horizon: that part is judged against
the day-ahead offer (the expected arrivals), and the reason states its confidence;
without an offer it is taken on trust, as the reason says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from v2g.demand_response.assessment import assess
from v2g.demand_response.event import DemandResponseEvent
from v2g.envelope import FleetEnvelope
from v2g.envelope.horizon import Horizon
from v2g.forecast.offer import Offer, OfferSlot

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
SLOTS = 24  # six hours of quarter hours: the plan ends at 18:00 today
TOMORROW = NOW + timedelta(days=1, hours=5)  # 17:00 tomorrow


def envelope(lower_w: float = -22_000.0) -> FleetEnvelope:
    zeros = np.zeros(SLOTS)
    return FleetEnvelope(
        Horizon(NOW, 900.0, SLOTS),
        2,
        np.full(SLOTS, lower_w),
        np.full(SLOTS, 22_000.0),
        zeros,
        zeros,
        zeros,
        "test",
        "test",
    )


def offer(export_w: float, shed_w: float = 0.0, confidence: float = 0.9) -> Offer:
    slots = tuple(
        OfferSlot(TOMORROW + timedelta(minutes=15 * k), export_w, shed_w) for k in range(8)
    )
    return Offer(TOMORROW, TOMORROW + timedelta(hours=2), confidence, slots, "30 days of history")


def event(
    kind: str = "export_w", value_w: float = 30_000.0, start=TOMORROW
) -> DemandResponseEvent:
    return DemandResponseEvent("ev-1", start, start + timedelta(hours=2), kind, value_w)


def test_an_event_tomorrow_within_the_p90_offer_is_taken_and_says_how_sure():
    result = assess([event()], envelope(), np.zeros(SLOTS), beyond=offer(40_000.0))
    assert result.deliverable
    assert "P90 day-ahead offer (90% confidence: 30 days of history)" in result.reason


def test_an_event_tomorrow_beyond_the_offer_is_refused_with_the_confidence():
    result = assess([event()], envelope(), np.zeros(SLOTS), beyond=offer(20_000.0))
    assert not result.deliverable
    assert "expected to export at most 20000 W" in result.reason
    assert (
        "90% confidence (P90 day-ahead offer" in result.reason and "asks 30000 W" in result.reason
    )


def test_shed_is_judged_against_the_offers_shed_and_the_tolerance_applies():
    asked = event("shed_w", 10_000.0)
    assert not assess([asked], envelope(), np.zeros(SLOTS), beyond=offer(0.0, 8_000.0)).deliverable
    tolerant = assess([asked], envelope(), np.zeros(SLOTS), 0.75, beyond=offer(0.0, 8_000.0))
    assert tolerant.deliverable


def test_without_an_offer_the_part_past_the_horizon_is_taken_on_trust_and_said():
    result = assess([event()], envelope(), np.zeros(SLOTS))
    assert result.deliverable and "taken on trust" in result.reason


def test_an_event_inside_the_horizon_ignores_the_offer():
    today = event(start=NOW + timedelta(hours=1))
    result = assess([today], envelope(-40_000.0), np.zeros(SLOTS), beyond=offer(0.0))
    assert result.deliverable and result.reason == "fleet envelope covers the request"


def test_the_envelope_still_decides_the_slots_it_covers():
    spanning = event(start=NOW + timedelta(hours=5))  # 17:00..19:00 today, plan ends 18:00
    result = assess([spanning], envelope(-10_000.0), np.zeros(SLOTS), beyond=offer(40_000.0))
    assert not result.deliverable and "discharge at most 10000 W" in result.reason
