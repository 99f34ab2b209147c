"""`v2g serve` with the SECC in its process: a real EV's session reaches the
aggregator, and the aggregator's setpoint reaches the EV (the in-process SessionLink)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3

import pytest

from tests.integration.processes import drive_ev, v2g_process
from v2g.secc.loopback.netns import veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_runs_the_secc_and_its_setpoints_reach_a_real_ev(tmp_path):
    spec = LoopbackSpec(protocol="iso20-ac-bpt", session_timeout_s=60, charge_loop_cycles=20)
    spec.write(tmp_path / "spec.json")
    with veth_link(f"s{os.getpid()}") as (charger, vehicle):
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "fallback_power_w = 4600\n",
            encoding="utf-8",
        )
        (tmp_path / "site.toml").write_text(
            f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path}/v2g.db"\n'
            f'[api]\nport = {free_port()}\n[grid]\nnetwork = "cigre-lv"\n'
            "[control]\ninterval_s = 2\n"
            '[[charger]]\nevse_id = "DE*V2G*E0042"\nbus = "Bus R11"\n'
            "max_charge_power_w = 11000\nmax_discharge_power_w = 7000\n"
            '[secc]\nconfig = "charger.toml"\n',
            encoding="utf-8",
        )
        log_path = tmp_path / "serve.log"
        with v2g_process(charger, log_path, "serve", "--config", str(tmp_path / "site.toml")):
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "vehicle.json")
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"], log_path.read_text()[-3000:]
    loop = [json.dumps(m["body"]) for m in result["received"] if m["name"] == "AC_ChargeLoopRes"]
    # Without the aggregator every answer would carry the 4600 W fallback.
    assert any('"Value": 4600' not in body for body in loop), loop[-1]

    with sqlite3.connect(tmp_path / "v2g.db") as db:
        sessions = db.execute("select evse_id, end_reason from sessions").fetchall()
        plans = [json.loads(row[0]) for row in db.execute("select body from plans")]
    assert [evse for evse, _ in sessions] == ["DE*V2G*E0042"]
    planned = [s for plan in plans for s in plan["setpoints"] if s["evse_id"] == "DE*V2G*E0042"]
    assert planned and all(s["binding_limit"] for s in planned)
