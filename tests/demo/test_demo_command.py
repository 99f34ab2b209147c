"""``v2g demo --json`` end to end, as CI runs it: a short day on the CIGRE LV feeder
through the real aggregator, store, planner and AC check."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys


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
    assert sessions > 0 and events == 1 and plans == summary["plans_stored"]


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
