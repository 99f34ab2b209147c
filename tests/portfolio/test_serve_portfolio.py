"""``v2g serve --config portfolio.toml`` as an operator runs it: Ray started in the
service's process, three feeders on two shards, the store in PostgreSQL where a server
is given (as in CI), a token from the command line, the portfolio read and a DR event
for the portfolio sent through the DR route."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.service.processes import Service, free_port, v2g
from tests.service.processes import api as call
from v2g.store import SqlPlanStore, open_store

#: A portfolio file's head: local Ray, the store at ``{store_url}``, the API on
#: ``{api_port}``, a cycle a second. Tests append ``[ocpp]`` and the feeders.
PORTFOLIO_HEAD = """
[cluster]
address = "local"
num_cpus = 2
[store]
url = "{store_url}"
[api]
port = {api_port}
[portfolio]
interval_s = 1
cycle_deadline_s = 20
"""
PORTFOLIO = (
    PORTFOLIO_HEAD
    + """[[feeder]]
name = "lv"
network = "cigre-lv"
[[feeder.charger]]
evse_id = "LV1"
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
[[feeder]]
name = "dorf"
network = "kerber-dorf"
[[feeder.charger]]
evse_id = "D1"
bus = 5
max_charge_power_w = 11000
[[feeder]]
name = "eu"
network = "ieee-eu-lv"
max_line_loading_percent = 90
"""
)
EVENT = {
    "id": "evt-portfolio",
    "modification_number": 1,
    "start": "2030-07-01T18:00:00Z",
    "end": "2030-07-01T20:00:00Z",
    "kind": "export_w",
    "value": 50000,
}


def test_serve_runs_the_portfolio_and_takes_its_dr_events(tmp_path, store_url):
    port = free_port()
    config = tmp_path / "portfolio.toml"
    config.write_text(PORTFOLIO.format(store_url=store_url, api_port=port))
    made = {
        r: v2g("token", "create", "--role", r, "--config", str(config))
        for r in ("utility", "viewer")
    }
    assert all(done.returncode == 0 for done in made.values()), made
    utility, viewer = (made[r].stdout.strip() for r in ("utility", "viewer"))
    service = Service(config, port, tmp_path / "serve.log", up_within_s=90)
    try:
        status, body = call(port, "POST", "/api/v1/dr-events", utility, EVENT)
        assert status == 201 and body["accepted"], body
        shed = {**EVENT, "id": "evt-shed", "kind": "shed_w"}
        status, body = call(port, "POST", "/api/v1/dr-events", utility, shed)
        assert status == 201 and body["accepted"], body
        stale = {**EVENT, "modification_number": 0}
        status, body = call(port, "POST", "/api/v1/dr-events", utility, stale)
        assert status == 200 and not body["accepted"], body
        assert call(port, "POST", "/api/v1/dr-events", viewer, EVENT)[0] == 403
        assert call(port, "GET", "/api/v1/portfolio", utility)[0] == 403
        status, events = call(port, "GET", "/api/v1/dr-events", utility)
        assert [(e["id"], e["modification_number"]) for e in events["events"]] == [
            ("evt-portfolio", 1),
            ("evt-shed", 1),
        ]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, portfolio = call(port, "GET", "/api/v1/portfolio", viewer)
            if status == 200 and portfolio["events"]:
                break
            time.sleep(0.3)
        assert [e["id"] for e in portfolio["events"]] == ["evt-portfolio", "evt-shed"]
        feeders = {f["feeder"]: f for f in portfolio["feeders"]}
        assert sorted(feeders) == ["dorf", "eu", "lv"]
        for feeder in feeders.values():
            assert feeder["vehicles"] == 0 and feeder["grid_ok"] is True
            assert feeder["plan_ms"] > 0 and feeder["share_w"] == 0  # no vehicle, no share
            assert feeder["envelope"]["lower_w"]
        assert not portfolio["cut"]
    finally:
        service.stop()
    assert "portfolio: 3 feeders on 2 shards" in (tmp_path / "serve.log").read_text()
    # Each cycle is in the store's plans (it survives the service).
    [last] = asyncio.run(_stored_plans(store_url))
    assert sorted(f["feeder"] for f in last["feeders"]) == ["dorf", "eu", "lv"]
    assert [e["id"] for e in last["events"]] == ["evt-portfolio", "evt-shed"]


async def _stored_plans(url: str) -> list[dict[str, Any]]:
    engine = await open_store(url)
    try:
        return await SqlPlanStore(engine).latest(limit=1)
    finally:
        await engine.dispose()


def test_a_bad_portfolio_file_exits_2_with_every_problem_on_one_line(tmp_path):
    config = tmp_path / "portfolio.toml"
    config.write_text('[cluster]\naddress = "nowhere"\n[[feeder]]\nname = "x"\n')
    done = v2g("serve", "--config", str(config))
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "cluster.address" in line and "feeder[0].network: missing" in line
