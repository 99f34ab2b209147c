"""Safety invariants of the planner, for generated fleets and DR events (hypothesis).

Each scenario runs through ``simulate``: the planner every hour, vehicles following
their setpoints the way the SECC applies them, on a CapacityGrid whose linear row is
exact, so any violation would be the planner's fault.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v2g.dispatch import PlannerSettings
from v2g.simulation import parse_scenario, simulate
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=24, setpoint_valid_s=3600)


def iso(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


vehicle = st.fixed_dictionaries(
    {
        "arrive_h": st.integers(0, 4),
        "stay_h": st.integers(2, 14),
        "capacity_wh": st.sampled_from([40_000, 60_000, 90_000]),
        "soc_arrival_percent": st.integers(5, 95),
        "soc_target_percent": st.integers(30, 100),
        "soc_reserve_percent": st.integers(0, 50),
        "max_charge_w": st.sampled_from([3_700, 7_400, 11_000, 22_000]),
        "max_discharge_w": st.sampled_from([0, 7_400, 11_000]),
        "v2g": st.booleans(),
        "bus": st.integers(1, 4),
    }
)
event = st.fixed_dictionaries(
    {
        "start_h": st.integers(0, 10),
        "length_h": st.integers(1, 4),
        "kind": st.sampled_from(["export_w", "import_limit_w", "shed_w"]),
        "value": st.integers(0, 60_000),
    }
)


def scenario(vehicles: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "start": iso(0),
        "end": iso(20),
        "step_s": 3600,
        "feeder": {"network": "fake"},
        "vehicles": [
            {
                "id": f"ev-{i}",
                "bus": v["bus"],
                "arrival": iso(v["arrive_h"]),
                "departure": iso(v["arrive_h"] + v["stay_h"]),
                **{k: v[k] for k in v if k not in ("arrive_h", "stay_h", "bus")},
            }
            for i, v in enumerate(vehicles)
        ],
        "dr_events": [
            {
                "id": f"evt-{i}",
                "start": iso(e["start_h"]),
                "end": iso(e["start_h"] + e["length_h"]),
                "kind": e["kind"],
                "value": e["value"],
            }
            for i, e in enumerate(events)
        ],
        "prices": [[iso(0), 0.3], [iso(6), 0.1]],
    }


def run(data: dict[str, Any], capacity_w: float = 1e7):
    parsed = parse_scenario(data)
    return parsed, simulate(parsed, CapacityGrid(capacity_w), int, HOURLY)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(vehicle, min_size=1, max_size=6), st.lists(event, max_size=2))
def test_setpoints_stay_within_vehicle_and_charger_limits(vehicles, events):
    parsed, log = run(scenario(vehicles, events))
    limits = {v.id: v for v in parsed.vehicles}
    for row in log.setpoints:
        v = limits[row.vehicle_id]
        floor = -v.max_discharge_w if v.v2g else 0.0
        assert floor - 1e-6 <= row.power_w <= v.max_charge_w + 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(vehicle, min_size=1, max_size=6), st.lists(event, max_size=2))
def test_no_vehicle_is_discharged_below_its_reserve(vehicles, events):
    parsed, log = run(scenario(vehicles, events))
    by_id = {v.id: v for v in parsed.vehicles}
    for vehicle_id, series in log.soc_percent.items():
        v = by_id[vehicle_id]
        floor = min(v.soc_reserve_percent, v.soc_arrival_percent)
        previous = v.soc_arrival_percent
        for _, soc in series[1:]:
            # SoC may only sink below the reserve by charging less, never by discharging.
            assert soc >= min(floor, previous) - 1e-6
            previous = soc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(vehicle, min_size=1, max_size=6), st.lists(event, max_size=2))
def test_every_vehicle_that_can_reach_its_target_leaves_with_it(vehicles, events):
    _, log = run(scenario(vehicles, events))
    assert all(d.met for d in log.departures), [d for d in log.departures if not d.met]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(vehicle, min_size=1, max_size=6), st.integers(15_000, 60_000))
def test_the_executed_plan_always_passes_the_grid_check(vehicles, capacity_w):
    """A transformer too small for everyone: whatever flows passes the check (the
    base load alone never breaks it here)."""
    _, log = run(scenario(vehicles, []), capacity_w=capacity_w)
    assert all(row.verdict.ok for row in log.grid)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 5), st.integers(1_000, 30_000))
def test_a_dr_export_is_met_whenever_the_envelope_and_grid_allow_it(cars, value):
    """Full V2G cars, far from their reserve and departure: any export within their
    combined discharge power is delivered in full."""
    value = min(value, cars * 11_000)
    vehicles = [
        {
            "arrive_h": 0,
            "stay_h": 18,
            "capacity_wh": 90_000,
            "soc_arrival_percent": 90,
            "soc_target_percent": 60,
            "soc_reserve_percent": 20,
            "max_charge_w": 11_000,
            "max_discharge_w": 11_000,
            "v2g": True,
            "bus": 1 + i % 3,
        }
        for i in range(cars)
    ]
    events = [{"start_h": 2, "length_h": 2, "kind": "export_w", "value": value}]
    _, log = run(scenario(vehicles, events))
    assert log.dr_requested_wh == value * 2
    assert log.dr_delivered_wh >= 0.999 * log.dr_requested_wh


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "bus": st.sampled_from(["Bus R15", "Bus R16", "Bus R17", "Bus R18", "Bus C14"]),
                "soc": st.integers(10, 90),
                "charge_w": st.sampled_from([11_000, 22_000]),
                "v2g": st.booleans(),
            }
        ),
        min_size=1,
        max_size=10,
    ),
    st.integers(0, 120_000),
)
def test_on_a_real_feeder_what_flows_always_passes_the_ac_check(cars, export_w):
    """CIGRE LV with a tight voltage band, real pandapower/power-grid-model flows: the
    linear rows are only approximate here, and the AC check plus curtailment must
    still keep every executed step within limits."""
    from gridmodel import AcGridCheck, GridLimits, load_network
    from v2g.feeder import FeederGrid

    network = load_network("cigre-lv", GridLimits(vm_pu_min=0.92, vm_pu_max=1.05))
    grid = FeederGrid(AcGridCheck(network))
    data = {
        "start": iso(0),
        "end": iso(3),
        "step_s": 1800,
        "feeder": {"network": "cigre-lv", "base_load_profile": [[iso(0), 0.6]]},
        "vehicles": [
            {
                "id": f"ev-{i}",
                "bus": car["bus"],
                "arrival": iso(0),
                "departure": iso(10),
                "capacity_wh": 60_000,
                "soc_arrival_percent": car["soc"],
                "soc_target_percent": 90,
                "soc_reserve_percent": 20,
                "max_charge_w": car["charge_w"],
                "max_discharge_w": car["charge_w"],
                "v2g": car["v2g"],
            }
            for i, car in enumerate(cars)
        ],
        "dr_events": [
            {"id": "evt", "start": iso(1), "end": iso(2), "kind": "export_w", "value": export_w}
        ],
        "prices": [[iso(0), 0.3]],
    }
    parsed = parse_scenario(data)
    settings_half_hour = PlannerSettings(slot_s=1800, slots=20, setpoint_valid_s=1800)
    log = simulate(parsed, grid, network.resolve_bus, settings_half_hour)
    assert all(row.verdict.ok for row in log.grid), [r.verdict.violations for r in log.grid]
