"""``v2g serve --config portfolio.toml`` with ``[secc]``: the SECC runs in the
portfolio's process, a real EV's session (the iso15118 EVCC in another network
namespace) is planned by its feeder's shard on a local Ray cluster, and that shard's
setpoints reach the EV through the SECC's mailbox."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from tests.integration.processes import drive_ev, v2g_process
from tests.integration.test_serve_with_secc import free_port
from tests.service.processes import v2g
from v2g.secc.loopback.netns import veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns

EVSE = "DE*V2G*E0077"


def test_a_portfolio_runs_the_secc_and_its_shards_setpoints_reach_a_real_ev(tmp_path):
    # A 10 s charge loop: the plug-in wakes a portfolio cycle, which plans on Ray.
    spec = LoopbackSpec(
        protocol="iso20-ac-bpt",
        session_timeout_s=60,
        charge_loop_cycles=40,
        charge_loop_delay_s=0.25,
    )
    spec.write(tmp_path / "spec.json")
    with veth_link(f"p{os.getpid()}") as (charger, vehicle):
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "{EVSE}"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "fallback_power_w = 4600\n",
            encoding="utf-8",
        )
        (tmp_path / "portfolio.toml").write_text(
            '[cluster]\naddress = "local"\nnum_cpus = 2\n'
            f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path}/v2g.db"\n'
            f"[api]\nport = {free_port()}\n"
            "[portfolio]\ninterval_s = 60\ncycle_deadline_s = 20\n"
            '[secc]\nconfig = "charger.toml"\n'
            '[[feeder]]\nname = "lv"\nnetwork = "cigre-lv"\n'
            f'[[feeder.charger]]\nevse_id = "{EVSE}"\nbus = "Bus R11"\n'
            "max_charge_power_w = 11000\nmax_discharge_power_w = 7000\n"
            '[[feeder]]\nname = "dorf"\nnetwork = "kerber-dorf"\n'
            '[[feeder.charger]]\nevse_id = "D1"\nbus = 5\nmax_charge_power_w = 11000\n',
            encoding="utf-8",
        )
        log_path = tmp_path / "serve.log"
        argv = ("serve", "--config", str(tmp_path / "portfolio.toml"))
        with v2g_process(charger, log_path, *argv):
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "vehicle.json")
    log = log_path.read_text()
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"], log[-3000:]
    loop = [json.dumps(m["body"]) for m in result["received"] if m["name"] == "AC_ChargeLoopRes"]
    # Without the shard's setpoints every answer would carry the 4600 W fallback.
    assert any('"Value": 4600' not in body for body in loop), loop[-1]
    assert "portfolio: 2 feeders" in log

    with sqlite3.connect(tmp_path / "v2g.db") as db:
        sessions = db.execute("select evse_id from sessions").fetchall()
        cycles = [json.loads(row[0]) for row in db.execute("select body from plans")]
    assert sessions == [(EVSE,)]
    planned = [f for c in cycles for f in c["feeders"] if f["feeder"] == "lv" and f["vehicles"]]
    assert planned, "no portfolio cycle planned the EV on its feeder"


def test_a_portfolio_refuses_an_secc_evse_that_is_on_no_feeder(tmp_path):
    (tmp_path / "charger.toml").write_text(
        '[[evse]]\nevse_id = "NOWHERE"\ninterface = "lo"\ncurrent = "ac"\n'
        "max_charge_power_w = 11000\n",
        encoding="utf-8",
    )
    (tmp_path / "portfolio.toml").write_text(
        '[cluster]\naddress = "local"\n'
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path}/v2g.db"\n'
        f"[api]\nport = {free_port()}\n"
        '[secc]\nconfig = "charger.toml"\n'
        '[[feeder]]\nname = "lv"\nnetwork = "cigre-lv"\n',
        encoding="utf-8",
    )
    done = v2g("serve", "--config", str(tmp_path / "portfolio.toml"))
    assert done.returncode != 0
    assert "EVSE NOWHERE is not" in done.stderr
