"""``v2g simulate`` end to end on the built-in CIGRE LV feeder, and its bad input."""

from __future__ import annotations

import csv
import json

import pytest

from v2g.cli import main
from v2g.simulation import InvalidScenario, parse_scenario


def scenario(**changes):
    data = {
        "start": "2026-07-01T16:00:00Z",
        "end": "2026-07-02T00:00:00Z",
        "step_s": 1800,
        "feeder": {"network": "cigre-lv"},
        "vehicles": [
            {
                "id": "ev-001",
                "bus": "Bus R11",
                "arrival": "2026-07-01T16:30:00Z",
                "departure": "2026-07-01T23:00:00Z",
                "capacity_wh": 60000,
                "soc_arrival_percent": 60,
                "soc_target_percent": 80,
                "soc_reserve_percent": 30,
                "max_charge_w": 11000,
                "max_discharge_w": 11000,
                "v2g": True,
            },
            {
                "id": "ev-002",
                "bus": 17,
                "arrival": "2026-07-01T16:00:00Z",
                "departure": "2026-07-01T22:00:00Z",
                "capacity_wh": 50000,
                "soc_arrival_percent": 30,
                "soc_target_percent": 70,
                "max_charge_w": 7400,
            },
        ],
        "dr_events": [
            {
                "id": "evt-1",
                "start": "2026-07-01T18:00:00Z",
                "end": "2026-07-01T19:00:00Z",
                "kind": "export_w",
                "value": 8000,
            }
        ],
        "prices": [["2026-07-01T16:00:00Z", 0.3], ["2026-07-01T20:00:00Z", 0.1]],
    }
    data.update(changes)
    return data


def test_simulate_writes_every_output_and_a_summary_with_zero_violations(tmp_path, capsys):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario()))
    out = tmp_path / "report"
    assert main(["simulate", str(path), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in (
        "vehicles",
        "energy_requested_wh",
        "energy_delivered_wh",
        "departures_met_percent",
        "dr_requested_wh",
        "dr_delivered_wh",
        "dr_delivery_percent",
        "grid_violations",
        "max_line_loading_percent",
        "max_trafo_loading_percent",
        "min_vm_pu",
        "max_vm_pu",
        "energy_cost",
        "plan_ms",
    ):
        assert key in summary
    assert summary["grid_violations"] == 0
    assert summary["departures_met_percent"] == 100.0
    assert summary["dr_delivery_percent"] == pytest.approx(100.0, abs=0.5)
    with (out / "setpoints.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"time", "vehicle_id", "power_w", "binding_limit"}
    assert all(row["binding_limit"] for row in rows)
    with (out / "grid.csv").open() as handle:
        assert set(next(csv.DictReader(handle))) == {
            "time",
            "max_line_loading_percent",
            "max_trafo_loading_percent",
            "min_vm_pu",
            "max_vm_pu",
            "violations",
        }
    assert (out / "summary.json").is_file() and (out / "overview.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2026-07-01T16:00:00"}, "start: naive time"),
        ({"end": "2026-07-01T15:00:00Z"}, "end: must be after start"),
        ({"step_s": float("nan")}, "step_s"),
        ({"vehicles": [{"id": "x"}]}, "vehicles[0].bus: missing"),
        (
            {"feeder": {"network": "cigre-lv", "limits": {"vm_pu_min": 1.1, "vm_pu_max": 1.0}}},
            "feeder.limits",
        ),
        (
            {
                "dr_events": [
                    {
                        "id": "e",
                        "start": "2026-07-01T18:00:00Z",
                        "end": "2026-07-01T17:00:00Z",
                        "kind": "export_w",
                        "value": 1,
                    }
                ]
            },
            "dr_events[0].end",
        ),
        (
            {
                "dr_events": [
                    {
                        "id": "e",
                        "start": "2026-07-01T18:00:00Z",
                        "end": "2026-07-01T19:00:00Z",
                        "kind": "teleport_w",
                        "value": 1,
                    }
                ]
            },
            "dr_events[0].kind",
        ),
    ],
)
def test_an_invalid_scenario_names_the_offending_field(change, field):
    with pytest.raises(InvalidScenario, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(scenario(**change))


def test_absurd_vehicle_data_is_refused_with_its_field():
    bad = scenario()
    bad["vehicles"][1]["capacity_wh"] = -5
    with pytest.raises(InvalidScenario, match=r"vehicles\[1\]\.capacity_wh"):
        parse_scenario(bad)
    bad["vehicles"][1]["capacity_wh"] = 50000
    bad["vehicles"][1]["soc_arrival_percent"] = float("nan")
    with pytest.raises(InvalidScenario, match=r"vehicles\[1\]\.soc_arrival_percent"):
        parse_scenario(bad)


def test_the_command_exits_2_with_one_line_for_bad_input(tmp_path, capsys):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario(feeder={"network": "no-such-feeder"})))
    assert main(["simulate", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert "no-such-feeder" in error and "\n" not in error
    path.write_text("{not json")
    assert main(["simulate", str(path)]) == 2
    unknown_bus = scenario()
    unknown_bus["vehicles"][0]["bus"] = "Bus Nowhere"
    path.write_text(json.dumps(unknown_bus))
    assert main(["simulate", str(path)]) == 2
    assert "Bus Nowhere" in capsys.readouterr().err


def test_an_owner_accepting_a_shortfall_is_read_and_reaches_the_owner_policy():
    from v2g.simulation.run import site_of

    data = scenario()
    data["vehicles"][0]["accepts_shortfall"] = True
    parsed = parse_scenario(data)
    assert [v.accepts_shortfall for v in parsed.vehicles] == [True, False]
    site = site_of(parsed, lambda bus: 1)
    assert site.policy_for("ev-001", "evse-ev-001").accept_shortfall
    assert not site.policy_for("ev-002", "evse-ev-002").accept_shortfall


def test_a_shortfall_opt_in_that_is_not_a_bool_is_refused_with_its_field():
    bad = scenario()
    bad["vehicles"][1]["accepts_shortfall"] = "yes"
    with pytest.raises(InvalidScenario, match=r"vehicles\[1\]\.accepts_shortfall"):
        parse_scenario(bad)
    assert bad["vehicles"][1]["accepts_shortfall"] == "yes"  # the input is left as it was
