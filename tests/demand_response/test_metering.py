"""Metered M&V arithmetic (v2g.demand_response.metering): energy over exactly the
event's clock window from held samples, and the stated meter baseline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.demand_response.metering import (
    MeterBaselineRule,
    MeterSample,
    days_to_read,
    meter_baseline,
    metered_energy_wh,
)

# A Wednesday; the event runs 18:07:30 to 18:52:30, not on any plan slot boundary.
START = datetime(2026, 7, 1, 18, 7, 30, tzinfo=UTC)
END = START + timedelta(minutes=45)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_a_sample_before_the_start_holds_into_the_window_and_only_the_window_counts():
    samples = [MeterSample("s1", at(-5), -6000.0), MeterSample("s1", at(15), -3000.0)]
    # -6 kW from the start for 15 min, then -3 kW for 30 min (held to the end).
    energy = metered_energy_wh(samples, START, END, hold_s=3600)
    assert energy == pytest.approx(-6000 * 0.25 - 3000 * 0.5)


def test_meters_add_up_and_a_session_end_stops_its_meter():
    samples = [MeterSample("a", at(0), 4000.0), MeterSample("b", at(0), -2000.0)]
    energy = metered_energy_wh(samples, START, END, ends={"b": at(15)}, hold_s=3600)
    assert energy == pytest.approx(4000 * 0.75 - 2000 * 0.25)


def test_a_meter_that_stops_reporting_counts_only_for_the_hold_time():
    samples = [MeterSample("a", at(0), 6000.0)]
    assert metered_energy_wh(samples, START, END, hold_s=600) == pytest.approx(1000.0)


def test_samples_after_the_window_do_not_count():
    samples = [MeterSample("a", at(50), 6000.0), MeterSample("a", at(-60), 1000.0)]
    # The old sample is stale (held 15 min) long before the start.
    assert metered_energy_wh(samples, START, END) == 0.0


def test_the_meter_baseline_averages_the_highest_x_of_the_last_y_similar_days():
    rule = MeterBaselineRule(of_days=5, highest=4, min_days=3)
    backs = days_to_read(START, rule)
    assert backs[:5] == [1, 2, 5, 6, 7]  # 3 and 4 days back: Sunday and Saturday
    energy = {back: 1000.0 * back for back in backs[:6]}  # older days used more
    baseline = meter_baseline(START, END, rule, energy)
    # The 5 most recent weekdays are 1, 2, 5, 6, 7 days back; the highest 4: 2, 5, 6, 7.
    assert baseline.energy_wh == pytest.approx((2000 + 5000 + 6000 + 7000) / 4)
    assert baseline.days == ("2026-06-24", "2026-06-25", "2026-06-26", "2026-06-29")
    assert "highest 4" in baseline.rule and "(4 of 5)" in baseline.rule


def test_days_without_meter_data_are_skipped_and_too_few_say_so():
    rule = MeterBaselineRule(of_days=10, highest=10, min_days=3)
    energy: dict[int, float | None] = {1: 500.0, 2: None, 3: 900.0, 5: 700.0}
    baseline = meter_baseline(START, END, rule, energy)
    assert baseline.energy_wh is None
    assert baseline.reason.startswith("history too short: 2 similar days with meter data")
    assert baseline.as_dict(100.0)["delivered_wh"] is None


def test_a_weekend_event_is_compared_with_weekend_days_only():
    saturday = datetime(2026, 7, 4, 10, tzinfo=UTC)
    backs = days_to_read(saturday, MeterBaselineRule())
    assert all((saturday - timedelta(days=b)).weekday() >= 5 for b in backs)


def test_a_rule_that_cannot_be_is_refused():
    with pytest.raises(ValueError, match="highest <= of_days"):
        MeterBaselineRule(of_days=3, highest=4)
