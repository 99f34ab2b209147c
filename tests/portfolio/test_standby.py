"""Two ``v2g serve --config portfolio.toml`` on one store: the first coordinates, the
second waits as a standby (not listening), and takes over, with the portfolio's DR
event from the store, when the first is killed (a real SIGKILL); a stopped
coordinator gives the lease up, so the next instance starts at once."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.portfolio.test_portfolio_ocpp import until
from tests.portfolio.test_serve_portfolio import EVENT, PORTFOLIO_HEAD
from tests.service.processes import Service, free_port, v2g
from tests.service.processes import api as call

LEASE_S = 3.0
FEEDER = """lease_s = 3
[[feeder]]
name = "lv"
network = "cigre-lv"
[[feeder.charger]]
evse_id = "LV1"
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
"""


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def instance(tmp_path: Path, store_url: str, name: str) -> tuple[Path, int]:
    port = free_port()
    config = tmp_path / f"{name}.toml"
    config.write_text(PORTFOLIO_HEAD.format(store_url=store_url, api_port=port) + FEEDER)
    return config, port


def test_a_standby_instance_takes_over_the_portfolio_when_the_coordinator_dies(
    tmp_path: Path, store_url: str
) -> None:
    (first, first_port), (second, second_port) = (
        instance(tmp_path, store_url, n) for n in ("first", "second")
    )
    made = v2g("token", "create", "--role", "utility", "--config", str(first))
    assert made.returncode == 0, made.stderr
    utility = made.stdout.strip()
    coordinator = Service(first, first_port, tmp_path / "first.log", up_within_s=90)
    with ThreadPoolExecutor(1) as pool:
        try:
            status, body = call(first_port, "POST", "/api/v1/dr-events", utility, EVENT)
            assert status == 201 and body["accepted"], body
            standing_by = pool.submit(Service, second, second_port, tmp_path / "second.log", 120)
            log = tmp_path / "second.log"
            until(lambda: log.exists() and "standby: serve@" in log.read_text())
            time.sleep(LEASE_S)  # renewed meanwhile: still a standby, not listening
            assert not listening(second_port)
            coordinator.process.send_signal(signal.SIGKILL)
            coordinator.process.wait(timeout=10)
            killed_at = time.monotonic()
            standby = standing_by.result(timeout=120)
            took_over_s = time.monotonic() - killed_at
        finally:
            coordinator.process.kill()
    try:
        status, events = call(second_port, "GET", "/api/v1/dr-events", utility)
        assert status == 200 and [e["id"] for e in events["events"]] == [EVENT["id"]]
        assert "coordinating the portfolio as serve@" in log.read_text()
    finally:
        standby.stop()  # gives the lease up
    assert took_over_s < LEASE_S + 60, took_over_s
    print(f"standby took over {took_over_s:.1f} s after the coordinator's SIGKILL")

    started = time.monotonic()
    again = Service(first, first_port, tmp_path / "again.log", up_within_s=90)
    try:
        assert "standby: " not in (tmp_path / "again.log").read_text()
    finally:
        again.stop()
    assert time.monotonic() - started < 90
