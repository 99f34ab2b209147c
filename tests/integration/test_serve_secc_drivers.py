"""`v2g serve` with its SECC deciding sessions by the site's drivers (``[secc]
authorize = true``): a real ISO 15118-2 EV between network namespaces whose EVCCID is
a blocked driver's MacAddress token is refused at Authorization, with the reason
audited (``GET /api/v1/authorizations`` reads the same table)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime

import pytest

from tests.integration.processes import drive_ev, v2g_process
from tests.integration.test_serve_with_secc import free_port
from v2g.drivers import IdTokenRecord
from v2g.secc.loopback.netns import NetnsEnd, veth_link
from v2g.secc.loopback.spec import LoopbackSpec
from v2g.store import open_store, sqlite_url
from v2g.store.drivers import SqlDriverStore

pytestmark = pytest.mark.netns


def mac_of(end: NetnsEnd) -> str:
    """The interface's MAC address: the iso15118 EV's EVCCID."""
    path = f"/sys/class/net/{end.interface}/address"
    return subprocess.run(
        end.command("cat", path), capture_output=True, text=True, check=True
    ).stdout.strip()


async def blocked_driver(url: str, mac: str) -> None:
    engine = await open_store(url)
    try:
        drivers = SqlDriverStore(engine)
        now = datetime.now(UTC)
        await drivers.create("bob", "Bob", now)
        await drivers.put_token(
            IdTokenRecord("MacAddress", mac.replace(":", "").upper(), "bob", now, blocked=True)
        )
    finally:
        await engine.dispose()


def test_a_blocked_drivers_car_is_refused_at_the_secc_with_the_reason(tmp_path):
    spec = LoopbackSpec(protocol="iso2-ac", session_timeout_s=40, charge_loop_cycles=5)
    spec.write(tmp_path / "spec.json")
    database = tmp_path / "v2g.db"
    with veth_link(f"d{os.getpid()}") as (charger, vehicle):
        asyncio.run(blocked_driver(sqlite_url(database), mac_of(vehicle)))
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nfallback_power_w = 4600\n',
            encoding="utf-8",
        )
        (tmp_path / "site.toml").write_text(
            f'[store]\nurl = "sqlite+aiosqlite:///{database}"\n'
            f'[api]\nport = {free_port()}\n[grid]\nnetwork = "cigre-lv"\n'
            "[control]\ninterval_s = 2\n"
            '[[charger]]\nevse_id = "DE*V2G*E0042"\nbus = "Bus R11"\n'
            "max_charge_power_w = 11000\n"
            '[secc]\nconfig = "charger.toml"\nauthorize = true\n',
            encoding="utf-8",
        )
        log_path = tmp_path / "serve.log"
        with v2g_process(charger, log_path, "serve", "--config", str(tmp_path / "site.toml")):
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "vehicle.json")
    result = json.loads((tmp_path / "vehicle.json").read_text())
    log = log_path.read_text()
    assert not result["completed"], log[-3000:]
    answers = [m for m in result["received"] if m["name"] == "AuthorizationRes"]
    assert answers and "FAILED" in json.dumps(answers[-1]["body"]), (answers, log[-3000:])
    assert not [m for m in result["received"] if m["name"] == "ChargingStatusRes"]
    with sqlite3.connect(database) as db:
        refusals = db.execute(
            "select door, evse_id, status, reason from authorizations"
        ).fetchall()
    assert refusals == [("secc", "DE*V2G*E0042", "Blocked", "token blocked (driver bob)")], log[
        -3000:
    ]
    assert "site's drivers Authorize Blocked" in log
