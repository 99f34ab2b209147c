"""The planner keeps its promises in order where the limits bind: the grid first, then
every departure (unless its owner accepts a shortfall), then DR, then price.

Scenarios run through ``simulate`` on a CapacityGrid (one transformer whose linear row
is exact) small enough to bind, with every vehicle known from the start, so the plan
has all the information a perfect plan would have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.dispatch import allocation as allocation_module
from v2g.dispatch import planner as planner_module
from v2g.fleet import Fleet
from v2g.session import PowerMeasured
from v2g.simulation import parse_scenario, simulate
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=24, setpoint_valid_s=3600)


def iso(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


car = st.fixed_dictionaries(
    {
        "stay_h": st.integers(3, 14),
        "capacity_wh": st.sampled_from([40_000, 60_000, 90_000]),
        "soc_arrival_percent": st.integers(20, 90),
        "soc_target_percent": st.integers(30, 100),
        "soc_reserve_percent": st.integers(0, 40),
        "max_charge_w": st.sampled_from([7_400, 11_000]),
        "v2g": st.booleans(),
    }
)


def scenario(cars: list[dict[str, Any]], export_w: float) -> dict[str, Any]:
    return {
        "start": iso(0),
        "end": iso(16),
        "step_s": 3600,
        "feeder": {"network": "fake", "base_load_profile": [[iso(0), 1.0], [iso(6), 0.3]]},
        "vehicles": [
            {
                "id": f"ev-{i}",
                "bus": 1 + i % 3,
                "arrival": iso(0),
                "departure": iso(c["stay_h"]),
                "max_discharge_w": c["max_charge_w"] if c["v2g"] else 0,
                **{k: c[k] for k in c if k != "stay_h"},
            }
            for i, c in enumerate(cars)
        ],
        "dr_events": [
            {"id": "evt", "start": iso(1), "end": iso(3), "kind": "export_w", "value": export_w}
        ]
        if export_w
        else [],
        "prices": [[iso(0), 0.45], [iso(5), 0.12]],
    }


def departures(data: dict[str, Any], capacity_w: float) -> tuple[int, float]:
    """How many departures were met, and the energy (Wh) the others missed."""
    parsed = parse_scenario(data)
    log = simulate(parsed, CapacityGrid(capacity_w, base_load_w=10_000), int, HOURLY)
    assert all(row.verdict.ok for row in log.grid)
    short = sum(max(0.0, min(d.target_wh, d.reachable_wh) - d.final_wh) for d in log.departures)
    return sum(d.met for d in log.departures), short


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(
    cars=[
        {
            "stay_h": 3,
            "capacity_wh": 40_000,
            "soc_arrival_percent": 20,
            "soc_target_percent": 35,
            "soc_reserve_percent": 0,
            "max_charge_w": 7400,
            "v2g": False,
        },
        {
            "stay_h": 4,
            "capacity_wh": 90_000,
            "soc_arrival_percent": 20,
            "soc_target_percent": 35,
            "soc_reserve_percent": 0,
            "max_charge_w": 7400,
            "v2g": False,
        },
        {
            "stay_h": 5,
            "capacity_wh": 40_000,
            "soc_arrival_percent": 20,
            "soc_target_percent": 33,
            "soc_reserve_percent": 0,
            "max_charge_w": 7400,
            "v2g": True,
        },
        {
            "stay_h": 4,
            "capacity_wh": 60_000,
            "soc_arrival_percent": 20,
            "soc_target_percent": 42,
            "soc_reserve_percent": 0,
            "max_charge_w": 7400,
            "v2g": False,
        },
    ],
    capacity_w=15_000,
    export_w=5_000,
)  # found by a random run: one vehicle fewer met with the event, 142 Wh less missed
@given(
    st.lists(car, min_size=2, max_size=6),
    st.integers(15_000, 45_000),
    st.integers(5_000, 80_000),
)
def test_a_dr_event_never_costs_a_departure_on_a_grid_that_binds(cars, capacity_w, export_w):
    """Whatever the event asks, the departures the grid cannot serve miss no more
    energy than without it (within the few percent by which the plan may spread a
    shortfall differently): a plan only sells what the grid lets it buy back in time.
    Where the grid cannot serve everyone, which vehicles are missed may change with
    the event, so the count may differ by one (as against the oracle, issue 12)."""
    met_without, short_without = departures(scenario(cars, 0), capacity_w)
    met_with, short_with = departures(scenario(cars, export_w), capacity_w)
    assert short_with <= 1.03 * short_without + 100.0
    assert met_with >= met_without - (1 if short_without > 0 else 0)


def _fleet(count: int, *, soc: float = 50.0, stay_h: float = 10.0, v2g: bool = True) -> Any:
    builder = FleetBuilder(T0)
    for i in range(count):
        builder.vehicle(
            str(i),
            bus=1,
            soc_percent=soc,
            target_soc_percent=90.0,
            departure=T0 + timedelta(hours=stay_h),
            max_discharge_w=11_000.0 if v2g else 0.0,
            v2g=v2g,
        )
    return builder.fleet


def test_a_base_load_that_breaks_the_transformer_is_stated_and_planned_around():
    """The base load alone overloads the transformer: the plan says so, adds no EV
    load to it, and raises nothing."""
    grid = CapacityGrid(20_000, base_load_w=30_000)
    plan = plan_dispatch(PlanInputs(T0, _fleet(3)), grid, HOURLY)
    assert any("base load alone breaks" in note for note in plan.notes), plan.notes
    assert plan.power_now_w <= 1.0


def test_a_dr_event_larger_than_the_fleet_is_stated_not_raised():
    book = EventBook().accept(
        DemandResponseEvent("huge", T0, T0 + timedelta(hours=2), "export_w", 10e6)
    )[0]
    plan = plan_dispatch(PlanInputs(T0, _fleet(2, soc=90.0), book), CapacityGrid(1e7), HOURLY)
    assert plan.strategy == "lp"
    assert any(note.startswith("DR:") for note in plan.notes), plan.notes
    assert plan.power_now_w < 0  # it still delivers what it can


def test_a_vehicle_that_cannot_reach_its_target_alone_is_named():
    plan = plan_dispatch(PlanInputs(T0, _fleet(1, soc=5.0, stay_h=1.0)), CapacityGrid(1e7), HOURLY)
    assert any("evse-0" in note and "can no longer reach" in note for note in plan.notes), (
        plan.notes
    )
    assert plan.setpoints["evse-0"].power_w > 0


def test_departures_short_of_grid_room_are_named_with_the_energy(monkeypatch):
    grid = CapacityGrid(5_000)
    plan = plan_dispatch(PlanInputs(T0, _fleet(4, soc=20.0, stay_h=4.0)), grid, HOURLY)
    notes = [n for n in plan.notes if n.startswith("departure:") and "kWh short" in n]
    assert notes, plan.notes
    assert plan.power_now_w <= 5_000 + 1.0


def test_a_solver_failure_falls_back_to_a_rule_that_still_sees_the_grid(monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise allocation_module.AllocationFailed("allocation LP: solver crashed")

    monkeypatch.setattr(planner_module, "allocate", broken)
    grid = CapacityGrid(12_000, base_load_w=2_000)
    plan = plan_dispatch(PlanInputs(T0, _fleet(4, soc=20.0)), grid, HOURLY)
    assert plan.strategy == "fallback within grid rows"
    assert any("solver crashed" in note for note in plan.notes)
    assert plan.verdict is not None and plan.verdict.ok
    # The rule itself kept to the row: nothing had to be curtailed by the AC check.
    assert plan.power_now_w == pytest.approx(10_000, abs=1.0)
    assert all(s.power_w >= 0 for s in plan.setpoints.values())


def test_the_planner_leaves_the_grid_model_unchanged_and_returns_what_it_learnt():
    class Recording(CapacityGrid):
        calibrated = 0

        def calibrate(self, violations: Any) -> None:
            self.calibrated += 1

    grid = Recording(8_000)
    plan = plan_dispatch(PlanInputs(T0, _fleet(3, soc=20.0)), grid, HOURLY)
    assert grid.calibrated == 0
    assert isinstance(plan.disagreements, tuple)


def test_the_horizon_reaches_the_latest_departure():
    plan = plan_dispatch(
        PlanInputs(T0, _fleet(1, stay_h=30.0)),
        CapacityGrid(1e7),
        PlannerSettings(slot_s=3600, slots=12),
    )
    assert plan.horizon.slots == 30
    assert np.isfinite(plan.fleet_power_w).all()


def test_slot_zero_in_detail_follows_a_zone_that_discharges():
    """Regression: the slot-0 refinement (used whenever rows are pending or zoned)
    took every discharge for a missed charging need and planned nothing."""
    from v2g.dispatch.allocation import allocate_now
    from v2g.dispatch.grid import GridRows

    no_rows = GridRows(np.zeros((0, 2)), np.zeros(0), np.zeros(0), ())
    power, _ = allocate_now(
        np.array([-22_000.0, 3_000.0]),
        np.array([22_000.0, 22_000.0]),
        np.array([0, 1]),
        np.array([-22_000.0, 0.0]),
        no_rows,
    )
    assert power[0] == pytest.approx(-22_000.0)
    assert power[1] == pytest.approx(3_000.0)  # its need is still met


@pytest.mark.parametrize("accepts", [False, True])
def test_an_owner_who_accepts_a_shortfall_gives_way_to_dr_and_only_to_dr(accepts):
    """Without an event every owner is charged to the target; with an event that
    needs more than the vehicle can buy back before it leaves, the departure wins
    unless its owner accepted a shortfall, and then the event wins (the order:
    departures, then DR, then an owner's accepted shortfall, then price)."""
    car = {
        "stay_h": 4,
        "capacity_wh": 60_000,
        "soc_arrival_percent": 60,
        "soc_target_percent": 80,
        "soc_reserve_percent": 20,
        "max_charge_w": 11_000,
        "v2g": True,
    }

    def run(export_w: float) -> Any:
        data = scenario([car], export_w)
        data["vehicles"][0]["accepts_shortfall"] = accepts
        return simulate(
            parse_scenario(data), CapacityGrid(100_000, base_load_w=10_000), int, HOURLY
        )

    calm = run(0)
    assert [d.met for d in calm.departures] == [True]
    event = run(11_000)
    if accepts:
        assert event.dr_delivered_wh >= 0.99 * event.dr_requested_wh
        assert [d.met for d in event.departures] == [False]
    else:
        assert [d.met for d in event.departures] == [True]
        assert event.dr_delivered_wh < 0.99 * event.dr_requested_wh


@pytest.mark.parametrize("during_event", [True, False])
def test_what_an_accepting_owners_car_gave_to_dr_stays_given_for_the_rest_of_the_event(
    during_event,
):
    """An owner who accepts a shortfall gave the event 11 kWh in its first hour; the
    event runs one more hour and the car leaves half an hour after it, too soon to buy
    it all back. What it gave stays an accepted shortfall: the car goes on giving, and
    its departure is not a miss. The same energy gone while no event asked is a miss
    the plan states (the car, still an accepting owner's, yields to the event)."""
    event = DemandResponseEvent("evening", T0, T0 + timedelta(hours=2), "export_w", 11_000.0)
    book, _ = EventBook().accept(event)
    now = T0 + timedelta(hours=1)
    builder = FleetBuilder(T0).vehicle(
        "a",
        soc_percent=70,  # 42 of 60 kWh; 48 kWh wanted by departure
        departure=T0 + timedelta(hours=2.5),
        max_discharge_w=11_000,
        v2g=True,
        accept_shortfall=True,
    )
    builder.events += [
        PowerMeasured("evse-a", "session-a", T0, -11_000.0),
        PowerMeasured("evse-a", "session-a", now, -11_000.0, 100 * 31 / 60),  # 31 kWh
    ]
    asked = book.share_asked if during_event else (lambda _start, _end: 0.0)
    fleet, errors = Fleet().apply_all(builder.events, builder.site, asked)
    assert not errors
    given = fleet.members["evse-a"].given_to_dr_wh
    assert given == pytest.approx(11_000.0 if during_event else 0.0)
    plan = plan_dispatch(
        PlanInputs(now, fleet, book),
        CapacityGrid(100_000),
        PlannerSettings(slot_s=900, slots=12, setpoint_valid_s=900),
    )
    assert plan.setpoints["evse-a"].power_w == pytest.approx(-11_000.0)
    missed = [n for n in plan.notes if n.startswith("departure: evse-a")]
    assert bool(missed) is not during_event, plan.notes


def test_the_car_leaving_first_gets_the_contested_room_now():
    """Two cars share room for one at full power; the price is flat, so only the time
    each has left tells them apart. The one leaving in two hours charges first; put
    off (as an LP vertex may, cycle after cycle), it would leave short."""
    cars = [
        {"id": "leaves-soon", "stay_h": 2},
        {"id": "stays-long", "stay_h": 10},
    ]
    data = {
        "start": iso(0),
        "end": iso(12),
        "step_s": 3600,
        "feeder": {"network": "fake", "base_load_profile": [[iso(0), 1.0]]},
        "vehicles": [
            {
                "id": c["id"],
                "bus": 1 + i,
                "arrival": iso(0),
                "departure": iso(c["stay_h"]),
                "capacity_wh": 40_000,
                "soc_arrival_percent": 20,
                "soc_target_percent": 70,
                "soc_reserve_percent": 10,
                "max_charge_w": 11_000,
                "max_discharge_w": 0,
                "v2g": False,
            }
            for i, c in enumerate(cars)
        ],
        "dr_events": [],
        "prices": [[iso(0), 0.30]],
    }

    assert departures(data, capacity_w=10_000 + 11_000) == (2, 0.0)


def test_putting_off_a_kwh_costs_more_for_the_car_with_less_time_left():
    """The tie-break behind the test above, on the objective itself: equal prices, and
    a kWh moved one hour later costs the car leaving in 2 h five times what it costs
    the car leaving in 10 h (least laxity first among otherwise equal plans)."""
    layout = allocation_module._Layout(2, 4)
    costs = allocation_module._objective(
        layout,
        np.full(4, 0.30),
        np.ones(4),
        np.arange(4.0),
        np.full(2, allocation_module.DEPARTURE_COST_PER_KWH),
        np.array([2.0, 10.0]),
    )
    charge = costs[layout.charge()].reshape(2, 4)
    later_soon, later_long = charge[0, 1] - charge[0, 0], charge[1, 1] - charge[1, 0]
    assert later_long > 0
    assert later_soon == pytest.approx(5 * later_long)
    # Past its departure a car cannot charge: its preference stops growing there.
    assert charge[0, 3] == charge[0, 2]


def test_a_thousand_cars_on_a_feeder_whose_base_load_breaks_limits_are_planned_by_the_lp():
    """cigre-mv's own base load breaks its voltage band and loads its transformer past
    100 %: the LP's relief costs then reach 3e10, where HiGHS's scaling by largest
    values ended in a solve error and the plan fell back to a rule. Solved again with
    HiGHS's own equilibration, the plan is the LP's and says what the base load breaks."""
    from gridmodel import AcGridCheck, load_network
    from v2g.feeder import FeederGrid
    from v2g.service.assembly import site_of
    from v2g.testing.portfolio import generated_feeder

    network = load_network("cigre-mv")
    feeder, events = generated_feeder("f", "cigre-mv", 1000, T0, 1)
    fleet, errors = Fleet().apply_all(events, site_of(feeder.site, network))
    assert not errors
    plan = plan_dispatch(
        PlanInputs(T0, fleet),
        FeederGrid(AcGridCheck(network)),
        PlannerSettings(slot_s=900, slots=48, setpoint_valid_s=900),
    )
    assert plan.strategy == "lp", plan.notes
    assert any(n.startswith("grid: base load alone breaks") for n in plan.notes)
