"""A portfolio's stations over OCPP, as an operator runs them: ``v2g serve --config
portfolio.toml`` with ``[ocpp]`` (Ray in the service's process, the store in
PostgreSQL where a server is given) and the npm ocpp-rpc peer as the station. A session
started at the station reaches the shard of its feeder, is stored, is planned, and the
station receives the feeder's setpoint as a charging profile; the store and the API say
which shard holds each feeder and which instance each station's connection; a shard
whose worker is killed is restarted and plans the vehicle again from the store, and so
does the service started again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.ocpp.processes import Station, node_peer_ready
from tests.ocpp.test_csms_with_ocpp_rpc import V2X_NEEDS, boot, started
from tests.portfolio.test_serve_portfolio import PORTFOLIO_HEAD
from tests.service.processes import Service, free_port, v2g
from tests.service.processes import api as call
from v2g.store import SqlSessionStore, open_store

PORTFOLIO = (
    PORTFOLIO_HEAD
    + """[ocpp]
listen = "127.0.0.1:{ocpp_port}"
security_profile = 1
[[feeder]]
name = "lv"
network = "cigre-lv"
[[feeder.charger]]
evse_id = "LV1"
station_id = "CS-LV"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
[[feeder]]
name = "dorf"
network = "kerber-dorf"
[[feeder.charger]]
evse_id = "D1"
station_id = "CS-DORF"
ocpp_evse = 1
bus = 5
max_charge_power_w = 11000
"""
)


def until(check: Callable[[], Any], timeout_s: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def feeder(port: int, token: str, name: str) -> dict[str, Any] | None:
    status, body = call(port, "GET", "/api/v1/portfolio", token)
    if status != 200:
        return None
    return next(f for f in body["feeders"] if f["feeder"] == name)


def station_instance(port: int, token: str, station: str) -> object:
    body = call(port, "GET", "/api/v1/portfolio", token)[1]
    return next(s for s in body["stations"] if s["station_id"] == station)["instance"]


async def stored_sessions(url: str) -> list[dict[str, Any]]:
    engine = await open_store(url)
    try:
        return await SqlSessionStore(engine).sessions()
    finally:
        await engine.dispose()


def held_as_recorded(port: int, token: str, serve_pid: int) -> dict[str, Any]:
    """Each feeder's shard and each station's instance as the API shows them from the
    store; returns lv's shard."""
    status, body = call(port, "GET", "/api/v1/portfolio", token)
    assert status == 200, body
    shards = {f["feeder"]: f["shard"] for f in body["feeders"]}
    assert {s["owner"] for s in shards.values()} == {"shard-0", "shard-1"}
    assert all(s["pid"] > 0 and s["node"] for s in shards.values())
    stations = {s["station_id"]: s for s in body["stations"]}
    assert stations["CS-LV"]["feeder"] == "lv" and stations["CS-DORF"]["instance"] is None
    instance = stations["CS-LV"]["instance"]
    assert instance["owner"].startswith("serve@") and instance["pid"] == serve_pid
    return dict(shards["lv"])


def planned_after_restart(port: int, token: str, killed: dict[str, Any]) -> dict[str, Any]:
    """lv's summary from the first full cycle after its shard runs in a new worker."""
    until(lambda: (f := feeder(port, token, "lv")) and f["shard"]["pid"] != killed["pid"])
    seen = call(port, "GET", "/api/v1/portfolio", token)[1]["cycle"]

    def fresh() -> dict[str, Any] | None:
        body = call(port, "GET", "/api/v1/portfolio", token)[1]
        if body["cycle"] <= seen or body["cut"]:
            return None
        return next(f for f in body["feeders"] if f["feeder"] == "lv")

    found: dict[str, Any] = until(fresh)
    return found


def listed_as_a_site_lists_them(port: int, token: str) -> None:
    """The portfolio's ``GET /sessions`` and ``/sessions/{id}``: the station's session
    from the store (no bill: a portfolio has no billing); bad input refused."""
    status, body = call(port, "GET", "/api/v1/sessions?limit=10", token)
    assert status == 200 and [s["session_id"] for s in body["sessions"]] == ["CS-LV/tx-1"]
    status, one = call(port, "GET", "/api/v1/sessions/CS-LV%2Ftx-1", token)
    assert status == 200, one
    assert one["evse_id"] == "LV1" and one["bill"] is None and "meter_values" in one
    assert call(port, "GET", "/api/v1/sessions/nope", token)[0] == 404
    assert call(port, "GET", "/api/v1/sessions?limit=0", token)[0] == 400
    assert call(port, "GET", "/api/v1/sessions", "not-a-token")[0] == 401


def test_a_session_at_a_station_is_planned_by_its_feeders_shard_and_gets_a_profile(
    tmp_path: Path, store_url: str
) -> None:
    node_peer_ready()
    api_port, ocpp_port = free_port(), free_port()
    config = tmp_path / "portfolio.toml"
    config.write_text(
        PORTFOLIO.format(store_url=store_url, api_port=api_port, ocpp_port=ocpp_port)
    )
    made = v2g("station", "create", "--id", "CS-LV", "--config", str(config))
    assert made.returncode == 0, made.stderr
    token = v2g("token", "create", "--role", "viewer", "--config", str(config))
    assert token.returncode == 0, token.stderr
    viewer = token.stdout.strip()
    service = Service(config, api_port, tmp_path / "serve.log", up_within_s=90)
    peer = Station(f"ws://127.0.0.1:{ocpp_port}/ocpp", "CS-LV", made.stdout.strip(), "ocpp2.1")
    try:
        assert peer.opened["event"] == "open", peer.opened
        assert peer.call("BootNotification", boot())["result"]["status"] == "Accepted"
        # An EVSE the portfolio does not have: refused as a site refuses it.
        unknown = peer.call(
            "TransactionEvent",
            {**started("tx-x", "EV-X", 7000), "evse": {"id": 9, "connectorId": 1}},
        )
        assert unknown["event"] == "callerror" and "not a site charger" in str(unknown), unknown
        answer = peer.call("TransactionEvent", started("tx-1", "EV-1", 7000, 60))
        assert answer["event"] == "result", answer
        assert peer.call("NotifyEVChargingNeeds", V2X_NEEDS)["result"] == {"status": "Accepted"}

        lv = until(lambda: (f := feeder(api_port, viewer, "lv")) and f["vehicles"] == 1 and f)
        assert lv["grid_ok"] is True
        assert feeder(api_port, viewer, "dorf")["vehicles"] == 0  # type: ignore[index]
        profile = peer.wait_for(
            lambda e: e["event"] == "received" and e["action"] == "SetChargingProfile",
            timeout_s=40,
        )
        charging = profile["params"]["chargingProfile"]
        assert charging["transactionId"] == "tx-1"
        assert charging["chargingProfilePurpose"] == "TxProfile"
        assert not [e for e in peer.seen if e["event"] == "invalid"]
        sessions = asyncio.run(stored_sessions(store_url))
        assert [(s["session_id"], s["evse_id"]) for s in sessions] == [("CS-LV/tx-1", "LV1")]
        listed_as_a_site_lists_them(api_port, viewer)
        shard = held_as_recorded(api_port, viewer, service.process.pid)
        # The worker of lv's shard killed: the service restarts the shard, which plans
        # the station's vehicle again from the store, the station sending nothing.
        os.kill(shard["pid"], signal.SIGKILL)
        again = planned_after_restart(api_port, viewer, shard)
        assert again["vehicles"] == 1 and again["shard"]["owner"] == shard["owner"]
        peer.close()  # the connection goes: no instance holds it any more
        until(lambda: station_instance(api_port, viewer, "CS-LV") is None and "gone")
    finally:
        peer.close()
        service.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "CSMS listening on ws://127.0.0.1" in log
    # The service started again, the station offline: its session, still open in the
    # store, is planned from the first cycle on.
    service = Service(config, api_port, tmp_path / "serve.log", up_within_s=90)
    try:
        assert feeder(api_port, viewer, "lv")["vehicles"] == 1  # type: ignore[index]
    finally:
        service.stop()
