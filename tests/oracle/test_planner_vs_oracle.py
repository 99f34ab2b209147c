"""The planner held to the oracle on small generated scenarios (issue 12).

Each scenario runs the real planner the way ``v2g simulate`` does (``run_simulate``),
replays its setpoints.csv in pandapower, and compares it with the reference optimum:
departures met >= the oracle's - 1, DR delivered >= 95 % of the oracle's, zero
violations on the replay. Scenarios are small (10-14 vehicles, 12 hours at 15 min)
to stay within CI time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gridmodel import load_network
from tests.benchmarks.bench_planner_quality import _planner, booked
from tests.oracle.metrics import Outcome, evaluate
from tests.oracle.networks import NetworkFiles
from tests.oracle.reference import solve
from tests.oracle.replay import AcReplay
from tests.oracle.scenarios import CASE_BY_NAME, generate
from v2g.simulation.scenario import parse_scenario

CASES = [
    pytest.param("lv-residential", 11, 10, id="lv-residential"),
    # Before the elastic planner: 3 of 10 departures met against the oracle's 10.
    pytest.param("lv-commercial", 12, 10, id="lv-commercial"),
    # Was short on DR (12.0 kWh against 14.8) while the oracle discharged below owners'
    # reserves; with the reserve kept the same way for both, it passes (issue 12).
    pytest.param("kerber-dorf", 13, 14, id="kerber-dorf"),
    # Before issue 12 item 3: a transformer-only net stopped the planner.
    pytest.param("depot", 14, 10, id="depot"),
]


def _both(tmp_path: Path, case: str, seed: int, vehicles: int) -> tuple[Outcome, Outcome]:
    generated = generate(
        seed, CASE_BY_NAME[case], NetworkFiles(tmp_path / "networks"), vehicles, hours=12
    )
    return _planner_and_oracle(tmp_path, generated.data)


def _planner_and_oracle(tmp_path: Path, data: dict[str, Any]) -> tuple[Outcome, Outcome]:
    """The planner (as ``v2g simulate`` runs it) and the oracle on ``data``, each
    replayed in pandapower."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data))
    scenario = parse_scenario(data)
    network = load_network(scenario.network, scenario.limits)
    bus_of = {v.id: network.resolve_bus(v.bus) for v in scenario.vehicles}
    replay = AcReplay(network, sorted(set(bus_of.values())))
    planned, _summary = _planner(path, tmp_path / "report", scenario)
    oracle = solve(scenario, data, network, bus_of, replay)
    assert oracle.status == "optimal", oracle.notes
    return (
        evaluate(scenario, planned, bus_of, replay),
        evaluate(scenario, oracle.schedule_w, bus_of, replay),
    )


@pytest.mark.parametrize(("case", "seed", "vehicles"), CASES)
def test_the_planner_keeps_departures_dr_and_limits_like_the_oracle(
    tmp_path: Path, case: str, seed: int, vehicles: int
) -> None:
    planner, oracle = _both(tmp_path, case, seed, vehicles)
    assert oracle.replay.count == 0
    assert planner.replay.count == 0, [v.element for v in planner.replay.violations]
    assert planner.departures_met >= oracle.departures_met - 1, (planner.short, oracle.short)
    assert planner.dr_delivered_wh >= 0.95 * oracle.dr_delivered_wh - 1.0


def test_with_the_oracles_knowledge_of_arrivals_the_planner_delivers_its_dr(tmp_path: Path):
    """lv-commercial-8 (31 cars, 24 h, the C feeder's voltage binds, one evening export
    event): with every car booked the planner knows what the oracle knows. Its plans
    held the oracle's 72.75 kWh until the event's second hour, then charged cars through
    the rest of it to buy back what an opted-in owner's car had given in the first
    hour (44 kWh delivered); that energy now stays given (decision 105)."""
    generated = booked(generate(8, CASE_BY_NAME["lv-commercial"]), 1.0)
    planner, oracle = _planner_and_oracle(tmp_path, generated.data)
    assert planner.replay.count == 0
    assert planner.departures_met >= oracle.departures_met - 1, (planner.short, oracle.short)
    assert planner.dr_delivered_wh >= 0.95 * oracle.dr_delivered_wh, planner.dr_delivered_wh
