"""The oracle itself, on cases small enough to solve by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gridmodel import load_network
from tests.oracle.metrics import evaluate
from tests.oracle.reference import solve
from tests.oracle.replay import AcReplay
from v2g.simulation.scenario import parse_scenario

HOUR = "2026-07-01T{:02d}:{:02d}:00Z"


def _at(quarter: int) -> str:
    return HOUR.format(quarter // 4, 15 * (quarter % 4))


def _scenario(
    vehicle: dict[str, Any], prices: list[float], events: list[Any] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    base = {
        "id": "ev-1",
        "bus": "Bus R11",
        "arrival": _at(0),
        "departure": _at(len(prices) - 1),
        "capacity_wh": 50000,
        "soc_arrival_percent": 50,
        "soc_target_percent": 50,
        "soc_reserve_percent": 20,
        "max_charge_w": 11000,
        "max_discharge_w": 0,
        "v2g": False,
    }
    return {
        "start": _at(0),
        "end": _at(len(prices)),
        "step_s": 900,
        "feeder": {"network": "cigre-lv", "base_load_profile": [[_at(0), 0.3]]},
        "vehicles": [base | vehicle],
        "dr_events": list(events),
        "prices": [[_at(k), p] for k, p in enumerate(prices)],
    }


def _solve(data: dict[str, Any]) -> tuple[np.ndarray, Any]:
    scenario = parse_scenario(data)
    network = load_network(scenario.network, scenario.limits)
    bus_of = {v.id: network.resolve_bus(v.bus) for v in scenario.vehicles}
    replay = AcReplay(network, sorted(set(bus_of.values())))
    result = solve(scenario, data, network, bus_of, replay)
    assert result.status == "optimal"
    return result.schedule_w["ev-1"], evaluate(scenario, result.schedule_w, bus_of, replay)


def test_the_oracle_charges_in_the_cheapest_slot() -> None:
    # Needs 2.6125 kWh stored = 2.75 kWh from the grid = 11 kW for one quarter-hour;
    # the second of four slots is the cheapest. It departs after slot 3 (4 slots).
    target = 100 * (25000 + 2612.5) / 50000
    data = _scenario({"soc_target_percent": target}, [0.30, 0.10, 0.20, 0.40, 0.5])
    power, outcome = _solve(data)
    assert power[:4] == pytest.approx([0, 11000, 0, 0], abs=1.0)
    assert outcome.cost == pytest.approx(0.10 * 2.75, abs=1e-3)
    assert outcome.departures_met == outcome.departed == 1
    assert outcome.replay.count == 0


def test_the_oracle_discharges_for_an_event_and_buys_the_energy_back_cheapest() -> None:
    # At target already; a 5 kW export event in slot 1. Discharging 5 kW for 15 min
    # takes 1.25 / 0.95 kWh from the battery; buying it back takes 1.25 / 0.95**2
    # = 1.385 kWh from the grid, all in slot 3, the cheapest after the event. Prices
    # differ by less than the round trip loses (0.095 / 0.95**2 > 0.10): no arbitrage.
    data = _scenario(
        {"v2g": True, "max_discharge_w": 11000},
        [0.10, 0.10, 0.10, 0.095, 0.10, 0.5],
        [{"id": "e", "start": _at(1), "end": _at(2), "kind": "export_w", "value": 5000}],
    )
    power, outcome = _solve(data)
    assert power[1] == pytest.approx(-5000, abs=1.0)
    assert power[3] * 0.25 == pytest.approx(1250 / 0.95**2, abs=1.0)
    assert power[[0, 2, 4]] == pytest.approx([0, 0, 0], abs=1.0)
    assert outcome.dr_percent == pytest.approx(100.0)
    assert outcome.departures_met == 1


def test_a_departure_outranks_an_event_unless_the_owner_accepts_a_shortfall() -> None:
    # Needs every slot of its dwell at full power; an export event asks for power meanwhile.
    target = 100 * (25000 + 4 * 2612.5) / 50000
    event = [{"id": "e", "start": _at(0), "end": _at(4), "kind": "export_w", "value": 5000}]
    vehicle = {"soc_target_percent": target, "v2g": True, "max_discharge_w": 11000}
    power, outcome = _solve(_scenario(vehicle, [0.3] * 5, event))
    assert power[:4] == pytest.approx([11000] * 4, abs=1.0)
    assert outcome.departures_met == 1 and outcome.dr_delivered_wh == 0
    power, outcome = _solve(_scenario(vehicle | {"accepts_shortfall": True}, [0.3] * 5, event))
    assert power[:4] == pytest.approx([-5000] * 4, abs=1.0)
    assert outcome.departures_met == 0 and outcome.dr_percent == pytest.approx(100.0)


def test_the_oracle_keeps_a_binding_transformer_within_its_limit() -> None:
    # Forty 22 kW vehicles on the C feeder's 0.3 MVA transformer, all at once: the
    # fleet asks for 880 kW. The replay finds no violation; vehicles are left short.
    vehicles = [
        {
            "id": f"ev-{k}",
            "bus": "Bus C1" if k % 2 else "Bus C12",
            "arrival": _at(0),
            "departure": _at(7),
            "capacity_wh": 100000,
            "soc_arrival_percent": 10,
            "soc_target_percent": 90,
            "soc_reserve_percent": 20,
            "max_charge_w": 22000,
            "max_discharge_w": 0,
            "v2g": False,
        }
        for k in range(40)
    ]
    data = _scenario({}, [0.2] * 8)
    data["vehicles"] = vehicles
    data["feeder"]["base_load_profile"] = [[_at(0), 1.0]]
    scenario = parse_scenario(data)
    network = load_network(scenario.network, scenario.limits)
    bus_of = {v.id: network.resolve_bus(v.bus) for v in scenario.vehicles}
    replay = AcReplay(network, sorted(set(bus_of.values())))
    result = solve(scenario, data, network, bus_of, replay)
    outcome = evaluate(scenario, result.schedule_w, bus_of, replay)
    assert result.status == "optimal"
    assert outcome.replay.count == 0
    assert outcome.replay.max_trafo_percent > 90  # it binds
    assert outcome.departures_met < outcome.departed


def test_a_base_case_that_breaks_a_limit_is_no_infeasible_program() -> None:
    # CIGRE MV at its full load breaks its own limits (trafo 101 %, 0.92 pu) before any
    # vehicle plugs in: the oracle still solves, makes nothing worse, and the replay
    # blames the base case, not the schedule.
    vehicles = [
        {
            "id": f"ev-{k}",
            "bus": 11,
            "arrival": _at(0),
            "departure": _at(3),
            "capacity_wh": 500000,
            "soc_arrival_percent": 20,
            "soc_target_percent": 80,
            "soc_reserve_percent": 20,
            "max_charge_w": 500000,
            "max_discharge_w": 0,
            "v2g": False,
        }
        for k in range(4)
    ]
    data = _scenario({}, [0.2] * 4)
    data["vehicles"] = vehicles
    data["feeder"] = {"network": "cigre-mv", "base_load_profile": [[_at(0), 1.0]]}
    scenario = parse_scenario(data)
    network = load_network(scenario.network, scenario.limits)
    bus_of = {v.id: network.resolve_bus(v.bus) for v in scenario.vehicles}
    replay = AcReplay(network, sorted(set(bus_of.values())))
    result = solve(scenario, data, network, bus_of, replay)
    outcome = evaluate(scenario, result.schedule_w, bus_of, replay)
    assert result.status == "optimal"
    assert outcome.replay.base_violations > 0
    assert outcome.replay.count == 0


def test_a_vehicle_that_arrives_below_its_reserve_is_not_discharged_below_it() -> None:
    # Arrives at 30 % with a 40 % reserve, an event asks for export in slots 4..7 and
    # the target is only 20 %: the LP's floor min(reserve, arrival) would let it charge
    # first and discharge down to 20 % for the event. Kept to its reserve, it
    # discharges only what it holds above 40 %, and never below it.
    prices = [0.1] * 8 + [0.5]
    event = [{"id": "e", "start": _at(4), "end": _at(8), "kind": "export_w", "value": 11000}]
    vehicle = {
        "soc_arrival_percent": 30,
        "soc_target_percent": 20,
        "soc_reserve_percent": 40,
        "v2g": True,
        "max_discharge_w": 11000,
    }
    power, _outcome = _solve(_scenario(vehicle, prices, event))
    energy = 15000.0 + np.cumsum(np.where(power > 0, power * 0.25 * 0.95, power * 0.25 / 0.95))
    discharged = np.flatnonzero(power < -1.0)
    assert discharged.size  # it does take part in the event
    assert all(energy[k] >= 20000.0 - 1.0 for k in discharged)


def test_the_informed_oracle_learns_of_a_vehicle_at_its_arrival() -> None:
    # One vehicle from the start, one that arrives in slot 2; both need one slot of
    # charging, the cheapest slot is 1. The clairvoyant oracle could not charge the
    # second before it arrives either, so both oracles agree here; the informed one
    # keeps the first vehicle's cheap slot and charges the second in its first cheap
    # slot after arrival.
    from tests.oracle.reference import solve_informed

    target = 100 * (25000 + 2612.5) / 50000
    data = _scenario({"soc_target_percent": target}, [0.30, 0.10, 0.20, 0.15, 0.40, 0.5])
    data["vehicles"].append(
        data["vehicles"][0] | {"id": "ev-2", "arrival": _at(2), "bus": "Bus R15"}
    )
    scenario = parse_scenario(data)
    network = load_network(scenario.network, scenario.limits)
    bus_of = {v.id: network.resolve_bus(v.bus) for v in scenario.vehicles}
    replay = AcReplay(network, sorted(set(bus_of.values())))
    informed = solve_informed(scenario, data, network, bus_of, replay)
    assert informed.status == "optimal"
    assert informed.schedule_w["ev-1"][:5] == pytest.approx([0, 11000, 0, 0, 0], abs=1.0)
    assert informed.schedule_w["ev-2"][:5] == pytest.approx([0, 0, 0, 11000, 0], abs=1.0)
    outcome = evaluate(scenario, informed.schedule_w, bus_of, replay)
    assert outcome.departures_met == outcome.departed == 2
