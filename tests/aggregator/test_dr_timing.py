"""DR delivered inside the event's window (issue 22): plan slots follow the clock, a
short first slot runs from now, and every event's start and end cut a slot, so an
event of any length is planned and delivered from its start to its end, never before
and never after (the cycle wakes at both boundaries)."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.properties import examples
from v2g.aggregator import Aggregator, RecordingLink
from v2g.cli import main
from v2g.demand_response import DemandResponseEvent, EventBook, dispatch_target
from v2g.demand_response.target import event_horizon, slot_shares
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.envelope import Horizon
from v2g.envelope.horizon import MIN_SLOT_S
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
QUARTER = PlannerSettings(slot_s=900, slots=16, setpoint_valid_s=600)
EXPORT_W = 10_000.0


def at(clock: str) -> datetime:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return T0.replace(hour=hours, minute=minutes, second=seconds)


def book_of(*events: DemandResponseEvent) -> EventBook:
    book = EventBook()
    for event in events:
        book, outcome = book.accept(event)
        assert outcome.accepted, outcome.reason
    return book


def starts(horizon: Horizon, count: int) -> list[str]:
    return [horizon.slot_start(k).strftime("%H:%M:%S") for k in range(count)]


def test_slots_follow_the_quarter_hours_after_a_short_first_slot_from_now():
    horizon = Horizon.aligned(at("04:10:20"), 900, 3600)
    assert starts(horizon, 5) == ["04:10:20", "04:15:00", "04:30:00", "04:45:00", "05:00:00"]
    assert horizon.durations_s[0] == 280
    assert horizon.first_h == pytest.approx(280 / 3600)
    assert horizon.end == at("05:15:00")
    np.testing.assert_allclose(horizon.hours.sum(), (horizon.end - horizon.start).seconds / 3600)


def test_a_first_slot_shorter_than_a_tenth_of_a_slot_joins_the_next():
    horizon = Horizon.aligned(at("04:14:30"), 900, 1800)
    assert starts(horizon, 2) == ["04:14:30", "04:30:00"]
    assert Horizon.aligned(at("04:15:00"), 900, 1800).durations_s[0] == 900


def test_an_event_cuts_slots_at_its_exact_start_and_end():
    """The issue's event 04:24:49-04:34:49 discharged 04:17:49-04:27:50."""
    event = DemandResponseEvent("e", at("04:24:49"), at("04:34:49"), "export_w", EXPORT_W)
    horizon = event_horizon(at("04:10:20"), 900, 3600, book_of(event))
    assert starts(horizon, 6) == [
        "04:10:20",
        "04:15:00",
        "04:24:49",
        "04:30:00",
        "04:34:49",
        "04:45:00",
    ]
    assert list(slot_shares(event, horizon)[:6]) == [0, 0, 1, 1, 0, 0]
    target = dispatch_target([event], horizon)
    assert list(np.isfinite(target.cap_w[:6])) == [False, False, True, True, False, False]


@settings(max_examples=examples(200), deadline=None)
@given(
    now_us=st.integers(0, 86_400 * 10**6),
    slot_s=st.integers(60, 3600),
    until_s=st.floats(0, 48 * 3600),
    cuts_s=st.lists(st.floats(-3600, 50 * 3600), max_size=6),
)
def test_every_boundary_is_on_the_clock_or_at_a_cut_and_every_cut_is_a_boundary(
    now_us, slot_s, until_s, cuts_s
):
    now = T0 + timedelta(microseconds=now_us)
    cuts = [now + timedelta(seconds=c) for c in cuts_s]
    horizon = Horizon.aligned(now, slot_s, until_s, cuts)
    offsets = horizon.offsets_s
    assert (np.diff(offsets) > 0).all() and offsets[-1] >= until_s - 1e-6
    first_cut = any(0 < c <= offsets[1] + 1e-3 for c in cuts_s)
    assert horizon.durations_s[0] >= 0.1 * slot_s or first_cut
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for k in range(1, horizon.slots + 1):
        moment = horizon.slot_start(k)
        on_clock = (moment - epoch) % timedelta(seconds=slot_s) == timedelta(0)
        at_cut = any(abs((moment - c).total_seconds()) <= 1e-3 for c in cuts)
        assert on_clock or at_cut, moment
    for cut_s in cuts_s:
        if 0 < cut_s < offsets[-1]:
            assert np.min(np.abs(offsets - cut_s)) <= 1e-3, cut_s


def test_slot_ends_that_do_not_increase_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        Horizon.cut(T0, 900, [300, 300, 900])
    with pytest.raises(ValueError, match="slot ends"):
        Horizon(T0, 900, 3, (300.0, 900.0))
    with pytest.raises(ValueError, match="slot_s"):
        Horizon.aligned(T0, 0, 3600)


def test_a_five_minute_event_is_planned_and_delivered_from_its_start():
    """The issue's 5-minute event was accepted, shown active and never planned."""
    event = DemandResponseEvent("e5", at("04:10:20"), at("04:15:20"), "export_w", EXPORT_W)
    fleet = v2g_pair(T0, stay_h=8).fleet
    grid = CapacityGrid(1e6)
    before = plan_dispatch(PlanInputs(at("04:02:00"), fleet, book_of(event)), grid, QUARTER)
    assert before.power_now_w >= -1  # (it may charge ahead of the export; never discharge)
    covered = slot_shares(event, before.horizon) == 1
    assert covered.sum() == 2  # 04:10:20-04:15:00 and 04:15:00-04:15:20
    np.testing.assert_allclose(before.fleet_power_w[covered], -EXPORT_W, atol=20)
    assert (before.fleet_power_w[~covered] >= -1).all()
    during = plan_dispatch(PlanInputs(event.start, fleet, book_of(event)), grid, QUARTER)
    assert during.power_now_w == pytest.approx(-EXPORT_W, abs=20)
    assert during.horizon.durations_s[0] == pytest.approx(280)


async def _drive(
    event: DemandResponseEvent, slot_s: float, now: datetime, interval_s: float
) -> list[tuple[datetime, float]]:
    """The real aggregator on a fake clock, cycling as ``Aggregator.run`` does (every
    ``interval_s``, sooner at a DR or slot boundary), until after the event: the fleet
    power posted at each cycle, which holds until the next."""
    builder = v2g_pair(now, stay_h=4)
    clock = FakeClock(now)
    settings_ = PlannerSettings(slot_s=slot_s, slots=4, setpoint_valid_s=2 * interval_s)
    agg = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), clock, settings_)
    for item in (*builder.events, event):
        assert agg.submit(item).accepted
    powers = []
    try:
        while clock.now() <= event.end:
            snapshot = await agg.cycle()
            assert snapshot.plan is not None, snapshot.health
            powers.append((clock.now(), snapshot.plan.power_now_w))
            clock.advance(agg.next_wait_s(interval_s))
    finally:
        agg.close()
    return powers


@settings(max_examples=examples(12), deadline=None)
@given(
    slot_s=st.integers(60, 3600),
    now_s=st.floats(0, 3600),
    lead_s=st.floats(0, 3600),
    length_s=st.floats(1, 3600),
    interval_s=st.sampled_from([60.0, 300.0, 900.0]),
)
@example(slot_s=900, now_s=610.0, lead_s=0.0, length_s=300.0, interval_s=60.0)  # issue 22
@example(slot_s=900, now_s=620.0, lead_s=869.0, length_s=600.0, interval_s=900.0)
@example(slot_s=60, now_s=0.0, lead_s=0.001, length_s=1.0, interval_s=60.0)  # a 1 ms first slot
@example(slot_s=60, now_s=0.0, lead_s=0.0004, length_s=1.0, interval_s=60.0)
def test_delivery_happens_only_inside_the_event_window_and_every_event_is_planned(
    slot_s, now_s, lead_s, length_s, interval_s
):
    """For any event start, end, slot size and cycle interval: each cycle inside the
    window posts the export asked, each cycle outside posts no discharge, and cycles
    run at the window's exact start and end (so delivery starts and stops there)."""
    now = T0 + timedelta(seconds=round(now_s, 6))
    start = now + timedelta(seconds=round(lead_s, 6))
    event = DemandResponseEvent(
        "p", start, start + timedelta(seconds=round(length_s, 6)), "export_w", EXPORT_W
    )
    powers = asyncio.run(_drive(event, float(slot_s), now, interval_s))
    moments = [moment for moment, _ in powers]
    assert event.start in moments and event.end in moments
    # A cut closer than MIN_SLOT_S to now is no slot of its own: the clock's resolution.
    early = event.start - timedelta(seconds=MIN_SLOT_S)
    for moment, power_w in powers:
        if event.active_at(moment):
            assert power_w == pytest.approx(-EXPORT_W, abs=20), moment
        elif not early < moment < event.start:
            assert power_w >= -1, moment


def _odd_second_scenario() -> dict[str, object]:
    """One V2G car on the CIGRE LV feeder, half-hour steps, flat prices (nothing to
    gain by discharging outside the event) and a 5-minute export from 18:07:13."""
    return {
        "start": "2026-07-01T17:00:00Z",
        "end": "2026-07-01T20:00:00Z",
        "step_s": 1800,
        "feeder": {"network": "cigre-lv"},
        "vehicles": [
            {
                "id": "ev-001",
                "bus": "Bus R11",
                "arrival": "2026-07-01T17:00:00Z",
                "departure": "2026-07-02T06:00:00Z",
                "capacity_wh": 60000,
                "soc_arrival_percent": 70,
                "soc_target_percent": 70,
                "soc_reserve_percent": 30,
                "max_charge_w": 11000,
                "max_discharge_w": 11000,
                "v2g": True,
            }
        ],
        "dr_events": [
            {
                "id": "evt-odd",
                "start": "2026-07-01T18:07:13Z",
                "end": "2026-07-01T18:12:13Z",
                "kind": "export_w",
                "value": 8000,
            }
        ],
        "prices": [["2026-07-01T17:00:00Z", 0.3]],
    }


def test_v2g_simulate_delivers_an_event_at_an_odd_second_from_its_start_not_before(
    tmp_path, capsys
):
    """Through ``v2g simulate``: the fleet discharges from 18:07:13 to 18:12:13 (the
    run cycles at both, as the service's cycle wakes there), never in the half hour
    around it, and M&V credits exactly five minutes of 8 kW."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(_odd_second_scenario()))
    out = tmp_path / "report"
    assert main(["simulate", str(path), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    with (out / "setpoints.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    power = {row["time"]: float(row["power_w"]) for row in rows}
    discharging = sorted(time for time, power_w in power.items() if power_w < -1)
    assert discharging == ["2026-07-01T18:07:13+00:00"], power
    assert power["2026-07-01T18:07:13+00:00"] == pytest.approx(-8000, abs=20)
    assert power["2026-07-01T18:12:13+00:00"] >= -1
    assert summary["dr_requested_wh"] == pytest.approx(8000 * 5 / 60, abs=0.1)
    assert summary["dr_delivered_wh"] == pytest.approx(8000 * 5 / 60, rel=0.01)


async def test_the_cycle_wakes_when_the_plan_s_first_slot_ends_on_the_clock():
    """Slot 0 runs to the next quarter hour: its setpoint is planned for that long, so
    the cycle does not sleep past it (nor past a DR boundary, decision 35)."""
    now = at("04:10:20")
    builder = v2g_pair(now, stay_h=4)
    agg = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), FakeClock(now), QUARTER)
    try:
        assert agg.next_wait_s(600) == 600  # no plan yet
        for item in builder.events:
            assert agg.submit(item).accepted
        await agg.cycle()
        assert agg.next_wait_s(600) == pytest.approx(280)
        assert agg.next_wait_s(60) == 60
    finally:
        agg.close()
