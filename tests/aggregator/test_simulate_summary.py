"""What ``v2g simulate`` tells a person: kWh, %, the scenario's currency, "none" where
nothing was asked; where the report went (never beside the scenario)."""

from __future__ import annotations

import json
import random

import pytest

from v2g.cli import main
from v2g.simulation.command import summary_text

from .test_simulate_command import scenario


def a_summary(rng: random.Random, **changes):
    departed = rng.randint(0, 30)
    short = rng.randint(0, departed)
    asked = rng.choice([0.0, rng.uniform(1e3, 5e5)])
    delivered = asked * rng.uniform(0, 1)
    summary = {
        "vehicles": departed + rng.randint(0, 10),
        "departed": departed,
        "energy_requested_wh": rng.uniform(0, 1e6),
        "energy_delivered_wh": rng.uniform(0, 1e6),
        "departures_met_percent": 100.0 * (departed - short) / departed if departed else 100.0,
        "dr_requested_wh": asked,
        "dr_delivered_wh": delivered,
        "dr_delivery_percent": 100.0 * delivered / asked if asked else 100.0,
        "dr_beyond_ask_wh": rng.choice([0.0, rng.uniform(1e3, 2e5)]),
        "exported_wh": rng.uniform(0, 3e5),
        "grid_violations": rng.randint(0, 5),
        "max_line_loading_percent": rng.uniform(0, 150),
        "max_trafo_loading_percent": rng.uniform(0, 150),
        "min_vm_pu": rng.uniform(0.85, 1.0),
        "max_vm_pu": rng.uniform(1.0, 1.1),
        "energy_cost": rng.uniform(-100, 100),
        "currency": rng.choice(["EUR", "GBP", "USD", "CHF"]),
        "plan_ms": {"p50": 1.5, "p99": 20.25, "max": 30.0},
        "strategies": {"lp": 10},
        "failed_cycles": 0,
        "failures": [],
        "short_departures": [
            {"vehicle_id": f"ev-{i}", "short_wh": 1234.5, "reason": "feeder full"}
            for i in range(short)
        ],
        "report": "/tmp/somewhere",
    }
    return summary | changes


@pytest.mark.parametrize("seed", range(25))
def test_the_text_summary_speaks_kwh_percent_and_currency_never_a_python_dict(seed):
    summary = a_summary(random.Random(seed))
    text = summary_text(summary)
    assert "{" not in text and "'" not in text  # no Python reprs
    assert f"{summary['energy_cost']:,.2f} {summary['currency']}" in text
    assert "kWh" in text and " Wh" not in text
    assert "plan time" in text and "p99 20.25 ms" in text
    if summary["departed"] == 0:
        assert "no departures" in text and "met (100 %)" not in text
    else:
        met = summary["departed"] - len(summary["short_departures"])
        assert f"{met} of {summary['departed']} met" in text
    if summary["dr_requested_wh"] == 0:
        assert "demand response" in text and "none asked" in text
        assert "100 %" not in text.split("demand response")[1].splitlines()[0]
    else:
        assert f"asked {summary['dr_requested_wh'] / 1000:,.1f} kWh" in text
    if summary["dr_requested_wh"] and summary["dr_beyond_ask_wh"] >= 50:
        assert "more than asked (moved for prices, not for DR)" in text
    assert "/tmp/somewhere" in text


def test_simulate_without_out_writes_to_a_named_temp_folder_not_beside_the_scenario(
    tmp_path, capsys
):
    path = tmp_path / "evening.json"
    path.write_text(json.dumps(scenario(currency="GBP")))
    assert main(["simulate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evening.json"]
    (said,) = [line for line in err.splitlines() if "writing the report to" in line]
    folder = said.split("writing the report to ")[1]
    assert folder in out
    written = json.loads((tmp_path.parent / folder / "summary.json").read_text())
    assert written["currency"] == "GBP"
    assert "GBP" in out and "{" not in out


@pytest.mark.parametrize("currency", ["eur", "EURO", "", 978, None, "€"])
def test_a_currency_that_is_not_an_iso_code_exits_2_and_names_the_field(
    tmp_path, capsys, currency
):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario(currency=currency)))
    out_dir = tmp_path / "report"
    assert main(["simulate", str(path), "--out", str(out_dir)]) == 2
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1].startswith("v2g simulate: currency:")
    assert not out_dir.exists()
