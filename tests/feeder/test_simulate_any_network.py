"""``v2g simulate`` on scenarios whose feeder is a user's pandapower JSON file."""

from __future__ import annotations

import json

import pandapower as pp
import pytest

from gridmodel import load_network
from tests.feeder.networks import HAND_BUILT
from v2g.cli import main


def scenario(network_path, buses, vehicles_per_bus=2):
    vehicles = [
        {
            "id": f"ev-{bus}-{k}",
            "bus": bus,
            "arrival": "2026-07-01T17:00:00Z",
            "departure": "2026-07-01T23:00:00Z",
            "capacity_wh": 60000,
            "soc_arrival_percent": 30,
            "soc_target_percent": 70,
            "max_charge_w": 22000,
            "max_discharge_w": 11000,
            "v2g": True,
        }
        for bus in buses
        for k in range(vehicles_per_bus)
    ]
    return {
        "start": "2026-07-01T17:00:00Z",
        "end": "2026-07-02T00:00:00Z",
        "step_s": 1800,
        "feeder": {"network": str(network_path)},
        "vehicles": vehicles,
        "dr_events": [
            {
                "id": "evt-1",
                "start": "2026-07-01T18:00:00Z",
                "end": "2026-07-01T19:00:00Z",
                "kind": "export_w",
                "value": 10000,
            }
        ],
    }


@pytest.mark.parametrize(
    "name",
    [
        "depot",
        "three-winding",
        "lv-ring-closed",
        "two-external-grids",
        "generator",
        "slack-generator",
    ],
)
def test_simulate_runs_on_a_network_file_without_violations(name, tmp_path, capsys):
    path = tmp_path / f"{name}.json"
    pp.to_json(HAND_BUILT[name](), str(path))
    buses = load_network(path).connection_buses()[:3]
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_text(json.dumps(scenario(path, buses)), encoding="utf-8")
    assert main(["simulate", str(scenario_path), "--out", str(tmp_path / "out"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid_violations"] == 0
    assert summary["departures_met_percent"] == 100.0


def test_a_depot_transformer_binds_and_the_fleet_still_leaves_full(tmp_path, capsys):
    """Twenty vans at 22 kW (440 kW) behind a 630 kVA transformer that already carries
    200 kW: the transformer limits the evening; the plan keeps it and every van leaves
    with its energy (issue 12: the first cycle used to raise on a net without lines)."""
    path = tmp_path / "depot.json"
    pp.to_json(HAND_BUILT["depot"](), str(path))
    bus = load_network(path).resolve_bus("depot LV")
    data = scenario(path, [bus], vehicles_per_bus=20)
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["simulate", str(scenario_path), "--out", str(tmp_path / "out"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["grid_violations"] == 0
    assert summary["max_trafo_loading_percent"] > 80.0
    assert summary["departures_met_percent"] == 100.0
