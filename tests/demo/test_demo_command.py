"""``v2g demo --json`` end to end, as CI runs it: a short day on the CIGRE LV feeder
through the real aggregator, store, planner and AC check."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

DEMO = (sys.executable, "-m", "v2g", "demo")


def test_a_short_demo_day_prints_one_json_summary_with_no_grid_violations(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "v2g",
            "demo",
            "--hours",
            "3",
            "--fleet",
            "12",
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)  # stdout holds the JSON document and nothing else
    assert summary["grid_violations"] == 0
    assert summary["vehicles"] == 12 and summary["steps"] == 12
    assert summary["dr_requested_wh"] > 0
    assert summary["dr_delivery_percent"] > 90
    assert summary["plans_stored"] == summary["steps"]
    for name in ("summary.json", "setpoints.csv", "grid.csv", "overview.png", "scenario.json"):
        assert (out / name).stat().st_size > 0, name

    with sqlite3.connect(out / "v2g.db") as store:
        (sessions,) = store.execute("select count(*) from sessions").fetchone()
        (events,) = store.execute("select count(*) from dr_events").fetchone()
        (plans,) = store.execute("select count(*) from plans").fetchone()
        measured = [
            json.loads(body) for (body,) in store.execute("select body from dr_measurements")
        ]
        [metered] = [json.loads(body) for (body,) in store.execute("select body from dr_metered")]
    assert sessions > 0 and events == 1 and plans == summary["plans_stored"]
    (measurement,) = measured  # what the DR event delivered, kept in the store
    assert measurement["event_id"] == "evt-evening-peak"
    assert measurement["asked_wh"] > 0 and measurement["delivered_wh"] > 0
    # From the simulated vehicles' meters (their applied power, stored as meter values)
    # over exactly the event's window: the run's own export, credited and beyond.
    assert metered["asked_wh"] == pytest.approx(summary["dr_requested_wh"], rel=1e-6)
    exported = summary["dr_delivered_wh"] + summary["dr_beyond_ask_wh"]
    assert metered["delivered_metered_wh"] == pytest.approx(exported, rel=1e-3)
    assert summary["base_load_scale"] == 1.0  # CIGRE LV carries the demo's base load
    assert "breaks its own limits" not in done.stderr


def test_a_demo_on_a_feeder_that_breaks_its_own_limits_says_so_and_scales_the_base_load(
    tmp_path,
):
    done = subprocess.run(
        [*DEMO, "--feeder", "cigre-mv", "--hours", "3", "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert "cigre-mv breaks its own limits before any car plugs in" in done.stderr
    assert 0 < summary["base_load_scale"] < 1
    assert f"by {summary['base_load_scale']:.2f}" in done.stderr
    assert summary["grid_violations"] == 0
    assert set(summary["strategies"]) <= {"lp", "idle"}  # no cycle fell back
    assert summary["dr_delivery_percent"] > 90


def test_the_text_summary_reads_in_kwh_and_names_what_was_beyond_the_ask(tmp_path):
    done = subprocess.run(
        [*DEMO, "--hours", "4", "--fleet", "12", "--out", str(tmp_path / "lv")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout
    assert "{" not in text and " Wh" not in text
    assert "no departures within the run" in text  # nobody leaves in the first 4 hours
    assert "demand response" in text and "kWh" in text and " EUR" in text
    assert "more than asked (moved for prices, not for DR)" in text


def test_a_demo_with_an_unknown_feeder_exits_2_with_a_reason(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "v2g", "demo", "--feeder", "atlantis", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    assert "atlantis" in done.stderr.strip().splitlines()[-1]
