"""The control cycle over several cycles on a fake clock: plug-ins and unplugs in the
middle of a DR event, a vehicle leaving early, a late grid check, stale setpoints."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from gridmodel import GridVerdict, Injection
from v2g.aggregator import Aggregator, CancelEvent, RecordingLink, SetFleetCap, Snapshot
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.limits import Limit, PowerBounds
from v2g.session import SessionEnded, SessionStarted, power_to_apply
from v2g.testing import FakeClock
from v2g.testing.fleet import FleetBuilder, v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=12, setpoint_valid_s=600)


class SlowGrid(CapacityGrid):
    """A grid whose AC check hangs until released: a check that times out."""

    def __init__(self) -> None:
        super().__init__(1e6)
        self.release = threading.Event()
        self.slow = False

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        if self.slow:
            self.release.wait(timeout=10)
        return super().check(injections)


def aggregator(builder: FleetBuilder, grid: CapacityGrid, timeout_s: float = 5.0):
    clock = FakeClock(builder.now)
    link = RecordingLink()
    agg = Aggregator(builder.site, grid, link, clock, HOURLY, plan_timeout_s=timeout_s)
    for event in builder.events:
        assert agg.submit(event).accepted
    return agg, clock, link


def two_v2g_cars() -> FleetBuilder:
    return v2g_pair(T0, stay_h=13)


async def test_a_dr_event_reaches_every_session_and_a_cancellation_stops_it_at_once():
    agg, _, link = aggregator(two_v2g_cars(), CapacityGrid(1e6))
    event = DemandResponseEvent("evt-9", T0, T0 + timedelta(hours=2), "export_w", 15_000)
    assert agg.submit(event).accepted
    snapshot = await agg.cycle()
    assert snapshot.plan is not None
    assert sum(link.latest(e).power_w for e in ("evse-a", "evse-b")) == pytest.approx(
        -15_000, abs=20
    )

    assert agg.submit(CancelEvent("evt-9")).accepted
    await agg.cycle()
    assert all(link.latest(e).power_w >= 0 for e in ("evse-a", "evse-b"))


async def test_a_car_plugging_in_mid_event_joins_and_one_leaving_early_drops_out():
    builder = two_v2g_cars().vehicle(
        "c", soc_percent=90, departure=T0 + timedelta(hours=12), max_discharge_w=11_000, v2g=True
    )
    arrives_later = [e for e in builder.events if e.evse_id == "evse-c"]
    builder.events = [e for e in builder.events if e.evse_id != "evse-c"]
    agg, clock, link = aggregator(builder, CapacityGrid(1e6))
    agg.submit(DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=3), "export_w", 30_000))
    first = await agg.cycle()
    assert first.plan is not None and first.plan.power_now_w == pytest.approx(-22_000, abs=20)

    # A third car plugs in during the event: the plan now reaches 30 kW.
    clock.advance(600)
    for event in arrives_later:
        assert agg.submit(event).accepted
    second = await agg.cycle()
    assert second.plan is not None and second.plan.power_now_w == pytest.approx(-30_000, abs=20)

    # Car a leaves early: it gets no more setpoints, the others carry on.
    clock.advance(600)
    assert agg.submit(SessionEnded("evse-a", "session-a", clock.now(), "unplugged")).accepted
    posted_before = len(link.posted["evse-a"])
    third = await agg.cycle()
    assert third.plan is not None and "evse-a" not in third.plan.setpoints
    assert len(link.posted["evse-a"]) == posted_before
    assert third.plan.power_now_w == pytest.approx(-22_000, abs=20)


async def test_a_late_grid_check_keeps_the_last_plan_and_its_setpoints_go_stale_safely():
    grid = SlowGrid()
    agg, clock, link = aggregator(two_v2g_cars(), grid)
    agg.submit(DemandResponseEvent("evt-2", T0, T0 + timedelta(hours=2), "export_w", 20_000))
    good = await agg.cycle()
    assert good.plan is not None
    last = link.latest("evse-a")
    assert last is not None and last.power_w < 0

    # Short only now: a first plan on a loaded machine may take longer than this.
    agg.plan_timeout_s = 0.2
    grid.slow = True
    clock.advance(300)
    late = await agg.cycle()
    assert late.plan is good.plan
    assert any("late" in note for note in late.health)
    assert link.latest("evse-a") is last  # nothing new was sent

    # While the old plan still runs, the next cycle does not start another one.
    busy = await agg.cycle()
    assert any("still running" in note for note in busy.health)
    grid.release.set()

    # Past valid_until the SECC no longer discharges on the old setpoint.
    clock.advance(600)
    bounds = PowerBounds.symmetric(11_000, 11_000, "EVSE rated")
    applied = power_to_apply(last, clock.now(), bounds, Limit(3_000, "fallback"))
    assert applied.power_w >= 0
    agg.close()


async def test_bad_input_is_rejected_with_a_reason_and_the_cycle_keeps_running_for_everyone():
    agg, _, _ = aggregator(two_v2g_cars(), CapacityGrid(1e6))
    before = agg.state
    outcome = agg.submit(SessionStarted("evse-unknown", "s-x", T0, "ghost", "din"))
    assert not outcome.accepted and "unknown EVSE" in outcome.reason
    assert agg.state is before
    snapshot = await agg.cycle()
    assert snapshot.plan is not None and set(snapshot.plan.setpoints) == {"evse-a", "evse-b"}


async def test_an_operator_fleet_cap_binds_and_is_named_in_the_setpoints():
    builder = (
        FleetBuilder(T0)
        .vehicle("a", soc_percent=10, departure=T0 + timedelta(hours=13))
        .vehicle("b", soc_percent=10, departure=T0 + timedelta(hours=13))
    )
    agg, _, link = aggregator(builder, CapacityGrid(1e6))
    assert agg.submit(SetFleetCap(8_000)).accepted
    snapshot = await agg.cycle()
    assert snapshot.plan is not None and snapshot.plan.power_now_w == pytest.approx(8_000, abs=20)
    assert {link.latest(e).binding.source for e in ("evse-a", "evse-b")} == {"operator fleet cap"}


async def test_the_cycle_wakes_when_a_dr_event_starts_and_ends():
    agg, clock, _ = aggregator(two_v2g_cars(), CapacityGrid(1e6))
    assert agg.next_wait_s(300) == 300
    agg.submit(
        DemandResponseEvent(
            "evt-5", T0 + timedelta(seconds=90), T0 + timedelta(hours=1), "export_w", 1
        )
    )
    assert agg.next_wait_s(300) == 90
    clock.advance(120)
    assert agg.next_wait_s(300) == 300
    clock.advance(3600 - 120 - 30)
    assert agg.next_wait_s(300) == 30


async def test_run_cycles_until_stopped_and_a_plug_in_wakes_it_early():
    import asyncio

    builder = two_v2g_cars()
    later = [e for e in builder.events if e.evse_id == "evse-b"]
    builder.events = [e for e in builder.events if e.evse_id == "evse-a"]
    agg, _, _ = aggregator(builder, CapacityGrid(1e6))
    published: asyncio.Queue[Snapshot] = asyncio.Queue()
    agg.subscribe(published.put_nowait)
    stop = asyncio.Event()
    runner = asyncio.create_task(agg.run(interval_s=3600, stop=stop))
    first = await asyncio.wait_for(published.get(), timeout=5)
    assert first.plan is not None and set(first.plan.setpoints) == {"evse-a"}
    for event in later:  # a plug-in: the next cycle comes at once, not in an hour
        agg.submit(event)
    second = await asyncio.wait_for(published.get(), timeout=5)
    assert second.cycle == first.cycle + 1
    assert second.plan is not None and set(second.plan.setpoints) == {"evse-a", "evse-b"}
    stop.set()
    await asyncio.wait_for(runner, timeout=5)
    agg.close()


async def test_reading_the_state_folds_nothing_the_next_cycle_folds_queued_session_events():
    builder = two_v2g_cars()
    later = [e for e in builder.events if e.evse_id == "evse-b"]
    builder.events = [e for e in builder.events if e.evse_id == "evse-a"]
    agg, _, _ = aggregator(builder, CapacityGrid(1e6))
    await agg.cycle()
    before = agg.state
    for event in later:
        assert agg.submit(event).accepted
    # Reads (the API's, the intake's) see the last folded state and change nothing.
    assert agg.state is before and agg.state is before
    assert "evse-b" not in {m.evse_id for m in agg.state.fleet}
    snapshot = await agg.cycle()
    assert {m.evse_id for m in snapshot.state.fleet} == {"evse-a", "evse-b"}
    assert agg.state is snapshot.state
    agg.close()
