"""Usage per EVSE and per hour of the week: energy and time add up whatever the
sessions, meter values, window and zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties import examples
from v2g.usage import MeterSample, SessionSpan, usage_report

MONDAY = datetime(2026, 6, 1, tzinfo=UTC)  # a Monday
WEEK = timedelta(days=7)


def report(sessions, samples, start=MONDAY, end=MONDAY + WEEK, now=None, zone=UTC, evses=("a",)):
    return usage_report(evses, sessions, samples, start, end, now or end, zone)


def test_a_session_at_constant_power_charges_power_times_time():
    spans = [SessionSpan("s", "a", MONDAY + timedelta(hours=18), MONDAY + timedelta(hours=21))]
    samples = [MeterSample("s", MONDAY + timedelta(hours=18), 7_000.0)]
    used = report(spans, samples)
    (a,) = used.evses
    assert a.charged_wh == pytest.approx(21_000.0)
    assert a.plugged_s == 3 * 3600 and a.idle_s == 0 and a.sessions == 1
    assert a.utilization == pytest.approx(3 / (7 * 24), abs=1e-6)
    monday = [h for h in used.hours if h.weekday == 0]
    assert [h.charged_wh for h in monday[18:21]] == [7_000.0] * 3
    assert monday[18].sessions_started == 1


def test_discharge_is_v2g_energy_and_a_quiet_car_is_idle():
    spans = [SessionSpan("s", "a", MONDAY, MONDAY + timedelta(hours=3))]
    samples = [
        MeterSample("s", MONDAY + timedelta(hours=1), -10_000.0),
        MeterSample("s", MONDAY + timedelta(hours=2), 50.0),
    ]
    (a,) = report(spans, samples).evses
    assert a.discharged_wh == pytest.approx(10_000.0)
    assert a.charged_wh == pytest.approx(50.0)
    # The hour before the first meter value and the hour at 50 W are idle.
    assert a.idle_s == pytest.approx(2 * 3600)


def test_an_idle_charger_shows_with_zeros_and_counts_in_the_site_utilization():
    spans = [SessionSpan("s", "a", MONDAY, MONDAY + timedelta(days=7))]
    used = report(spans, [], evses=("a", "b"))
    assert [e.evse_id for e in used.evses] == ["a", "b"]
    assert used.evses[1].plugged_s == 0 and used.evses[1].utilization == 0
    assert used.site.utilization == pytest.approx(0.5)


def test_a_session_over_the_window_edges_counts_only_inside_and_its_start_only_if_inside():
    spans = [SessionSpan("s", "a", MONDAY - timedelta(hours=2), MONDAY + timedelta(hours=2))]
    samples = [MeterSample("s", MONDAY - timedelta(hours=2), 1_000.0)]
    used = report(spans, samples)
    assert used.evses[0].charged_wh == pytest.approx(2_000.0)
    assert used.evses[0].sessions == 1
    assert sum(h.sessions_started for h in used.hours) == 0


def test_an_open_session_counts_up_to_now():
    spans = [SessionSpan("s", "a", MONDAY, None)]
    samples = [MeterSample("s", MONDAY, 3_600.0)]
    used = report(spans, samples, now=MONDAY + timedelta(hours=2))
    assert used.evses[0].charged_wh == pytest.approx(7_200.0)


def test_hours_of_the_week_follow_the_zone_given():
    spans = [SessionSpan("s", "a", MONDAY + timedelta(hours=22), MONDAY + timedelta(hours=23))]
    samples = [MeterSample("s", MONDAY + timedelta(hours=22), 1_000.0)]
    used = report(spans, samples, zone=ZoneInfo("Europe/Amsterdam"))  # UTC+2 in June
    (busy,) = [h for h in used.hours if h.charged_wh]
    assert (busy.weekday, busy.hour) == (1, 0)  # Tuesday 00:00 in Amsterdam


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="before"):
        report([], [], start=MONDAY, end=MONDAY)


_OFFSETS_S = st.integers(min_value=-86_400, max_value=9 * 86_400)


@st.composite
def _sessions(draw):
    spans, samples = [], []
    for index in range(draw(st.integers(0, 6))):
        start = MONDAY + timedelta(seconds=draw(_OFFSETS_S))
        length = timedelta(seconds=draw(st.integers(1, 3 * 86_400)))
        ended = None if draw(st.booleans()) else start + length
        spans.append(SessionSpan(f"s{index}", draw(st.sampled_from("abc")), start, ended))
        for _ in range(draw(st.integers(0, 5))):
            at = start + timedelta(seconds=draw(st.integers(0, int(length.total_seconds()))))
            power_w = draw(st.floats(-22_000, 22_000, allow_nan=False))
            samples.append(MeterSample(f"s{index}", at, power_w))
    return spans, samples


@settings(max_examples=examples(200), deadline=None)
@given(
    _sessions(),
    st.sampled_from([UTC, ZoneInfo("Europe/Amsterdam"), ZoneInfo("Asia/Kolkata")]),
)
def test_hours_of_the_week_add_up_to_the_site_and_time_stays_in_the_window(drawn, zone):
    spans, samples = drawn
    used = report(spans, samples, zone=zone, evses=("a", "b", "c"))
    window_s = WEEK.total_seconds()
    assert sum(h.charged_wh for h in used.hours) == pytest.approx(used.site.charged_wh, abs=0.1)
    assert sum(h.discharged_wh for h in used.hours) == pytest.approx(
        used.site.discharged_wh, abs=0.1
    )
    assert sum(h.plugged_s for h in used.hours) == pytest.approx(used.site.plugged_s, abs=0.1)
    for evse in used.evses:
        assert 0 <= evse.idle_s <= evse.plugged_s
        assert evse.charged_wh >= 0 and evse.discharged_wh >= 0
        assert 0 <= evse.utilization <= 1
    assert used.site.plugged_s <= window_s * len(spans) + 1e-6
