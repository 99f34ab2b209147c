"""The control cycle fails closed: a planner that raises, a plan that comes too late
and a plan the AC check curtails to zero all leave every vehicle on a safe setpoint
(the last good plan until its ``valid_until``, or 0 W), never on a new discharge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from v2g.aggregator import Aggregator, RecordingLink
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.dispatch.baselines import Planner
from v2g.dispatch.grid import GridModel
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid, ContradictoryRowsGrid, RefusingGrid
from v2g.testing.planners import FailingPlanner, HeldPlanner

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=12, setpoint_valid_s=600)
EVSES = ("evse-a", "evse-b")
EXPORT = DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=2), "export_w", 15_000)


def _aggregator(
    planner: Planner, grid: GridModel | None = None, timeout_s: float = 5.0
) -> tuple[Aggregator, FakeClock, RecordingLink]:
    builder = v2g_pair(T0, stay_h=13)
    clock = FakeClock(T0)
    link = RecordingLink()
    agg = Aggregator(
        builder.site,
        grid or CapacityGrid(1e6),
        link,
        clock,
        HOURLY,
        plan_timeout_s=timeout_s,
        planner=planner,
    )
    for event in builder.events:
        assert agg.submit(event).accepted
    assert agg.submit(EXPORT).accepted
    return agg, clock, link


async def test_a_planner_that_raises_before_any_plan_sends_nothing_and_says_why():
    planner = FailingPlanner(ZeroDivisionError("bad row"))
    agg, _, link = _aggregator(planner)
    snapshot = await agg.cycle()
    assert planner.calls == 1
    assert snapshot.plan is None
    assert any("planning failed (bad row)" in note for note in snapshot.health)
    assert all(link.latest(e) is None for e in EVSES)  # the SECCs keep their fallback
    agg.close()


async def test_a_planner_that_raises_later_keeps_the_last_safe_plan_and_posts_nothing_new():
    planner = HeldPlanner()
    agg, clock, link = _aggregator(planner)
    good = await agg.cycle()
    assert good.plan is not None
    posted = {e: len(link.posted[e]) for e in EVSES}

    agg.planner = FailingPlanner()
    clock.advance(300)
    failed = await agg.cycle()
    assert failed.plan is good.plan
    assert any("planning failed (planner bug)" in note for note in failed.health)
    assert {e: len(link.posted[e]) for e in EVSES} == posted

    agg.planner = planner  # the planner recovers: the next cycle plans again
    clock.advance(300)
    recovered = await agg.cycle()
    assert recovered.plan is not good.plan and not recovered.health
    agg.close()


async def test_a_late_plan_is_discarded_even_after_it_arrives():
    planner = HeldPlanner()
    agg, clock, link = _aggregator(planner)
    good = await agg.cycle()
    assert good.plan is not None
    posted = {e: len(link.posted[e]) for e in EVSES}

    # Short only now: a first plan on a loaded machine may take longer than this.
    agg.plan_timeout_s = 0.05
    planner.held = True
    planner.done.clear()
    clock.advance(300)
    late = await agg.cycle()
    assert late.plan is good.plan and any("plan late" in n for n in late.health)

    # The late plan finishes in the worker: it is neither posted nor published.
    planner.held = False
    planner.release.set()
    assert await asyncio.to_thread(planner.done.wait, 10)
    late_plan = planner.returned[-1]
    await asyncio.sleep(0)
    assert {e: len(link.posted[e]) for e in EVSES} == posted
    assert agg.latest() is late

    clock.advance(300)
    agg.plan_timeout_s = 30.0  # the fresh plan is a real one: on a busy machine > 0.05 s
    fresh = await agg.cycle()
    assert fresh.plan is not None and fresh.plan is not late_plan
    assert fresh.plan.created_at == clock.now()
    agg.close()


async def test_a_plan_the_ac_check_curtails_to_zero_sets_everyone_to_zero_and_names_the_element():
    grid = RefusingGrid(1e6, element="line 7")
    agg, _, link = _aggregator(HeldPlanner(), grid)
    snapshot = await agg.cycle()
    plan = snapshot.plan
    assert plan is not None
    assert any("curtailed to 0%" in note for note in plan.notes)
    for evse_id in EVSES:
        setpoint = link.latest(evse_id)
        assert setpoint is not None and setpoint.power_w == pytest.approx(0.0)
        assert "line 7" in setpoint.binding.source
    assert plan.verdict.ok  # zero EV power is what the grid accepts
    agg.close()


async def test_grid_rows_that_contradict_each_other_hold_ev_power_off_them_and_say_so():
    """Rows no power can satisfy (the base load alone breaks them) used to make the LP
    infeasible: now EV power may not add to them, the plan says so, nothing raises."""
    grid = ContradictoryRowsGrid(15_000)
    agg, _, link = _aggregator(HeldPlanner(), grid)
    snapshot = await agg.cycle()
    plan = snapshot.plan
    assert plan is not None and plan.strategy == "lp"
    assert any("base load alone breaks" in note for note in plan.notes), plan.notes
    assert plan.verdict.ok  # through the same AC check
    total_w = sum(link.latest(e).power_w for e in EVSES)
    assert abs(total_w) <= 1.0
    agg.close()
