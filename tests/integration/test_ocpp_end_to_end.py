"""The whole chain with a real EV: the iso15118 EVCC (vehicle namespace) ↔ ``v2g secc``
(charger namespace) ↔ OCPP 2.1 over WebSocket ↔ ``v2g serve`` ↔ plan ↔
SetChargingProfile ↔ EVSE mailbox ↔ the EV's charge loop, which shows the discharge
setpoint a DR export event asks for. Then the CSMS is killed: the EV runs the last
profile until it expires, then the fallback, which never discharges; the events the
station queued meanwhile arrive in order, marked offline, once ``v2g serve`` is back."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import v2g_process, wait_for_line
from tests.service.processes import free_port, v2g
from v2g.secc.loopback.netns import NetnsEnd, veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns

EVSE = "DE*V2G*E0042"
#: The iso15118 simulator's -20 EVCCID.
EV_ID = "WMIV1234567890ABCDEX"
PROFILE_S = 20  # setpoint_valid_s: a profile's lifetime (validTo)
FALLBACK_W = 2000


def site_toml(folder: Path, api_port: int, ocpp_port: int) -> str:
    return f"""
[store]
url = "sqlite+aiosqlite:///{folder}/v2g.db"
[api]
port = {api_port}
[grid]
network = "cigre-lv"
[control]
interval_s = 2
slot_s = 900
horizon_slots = 8
setpoint_valid_s = {PROFILE_S}
[ocpp]
listen = "127.0.0.1:{ocpp_port}"
renew_before_s = 8
[[charger]]
evse_id = "{EVSE}"
station_id = "CS-E2E"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 7000
[[vehicle]]
ev_id = "{EV_ID}"
v2g_allowed = true
reserve_soc_percent = 10
# The simulated EV asks for more than its stay allows: the DR event may take from it.
accept_shortfall = true
"""


def charger_toml(folder: Path, interface: str, ocpp_port: int) -> str:
    return f"""
[ocpp]
csms_url = "ws://127.0.0.1:{ocpp_port}/ocpp"
station_id = "CS-E2E"
password_file = "{folder}/password"
version = "2.1"
queue_dir = "{folder}/queue"
[[evse]]
evse_id = "{EVSE}"
interface = "{interface}"
current = "ac"
max_charge_power_w = 11000
max_discharge_power_w = 7000
fallback_power_w = {FALLBACK_W}
ocpp_evse = 1
"""


@contextmanager
def serve(charger: NetnsEnd, site: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``v2g serve`` in the charger's namespace (its loopback is the SECC's)."""
    with log.open("a") as sink:
        process = subprocess.Popen(
            charger.command(sys.executable, "-m", "v2g", "serve", "--config", str(site)),
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        wait_for_line(log, "CSMS listening", 90)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def post_in(charger: NetnsEnd, port: int, token: str, path: str, body: object) -> None:
    """An API call from inside the charger's namespace (where ``v2g serve`` listens)."""
    code = (
        "import json, sys, urllib.request\n"
        f"r = urllib.request.Request('http://127.0.0.1:{port}{path}', method='POST',"
        f" data=json.dumps({body!r}).encode(), headers={{'Authorization': 'Bearer {token}',"
        " 'Content-Type': 'application/json'})\n"
        "print(urllib.request.urlopen(r, timeout=10).status)\n"
    )
    done = subprocess.run(
        charger.command(sys.executable, "-c", code),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() in ("200", "201"), done.stderr


def targets(received: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(arrival, EVSETargetActivePower in W) of each AC_ChargeLoopRes the EV got."""

    def power(node: Any) -> float | None:
        if isinstance(node, dict):
            found = node.get("EVSETargetActivePower")
            if isinstance(found, dict):
                return float(found["Value"]) * 10 ** int(found.get("Exponent", 0))
            for value in node.values():
                inner = power(value)
                if inner is not None:
                    return inner
        return None

    out = []
    for message in received:
        if message["name"] == "AC_ChargeLoopRes":
            watts = power(message["body"])
            if watts is not None:
                out.append((float(message["at"]), watts))
    return out


def test_a_real_ev_discharges_for_a_dr_event_and_falls_back_without_the_csms(tmp_path) -> None:
    api_port, ocpp_port = free_port(), free_port()
    site = tmp_path / "site.toml"
    site.write_text(site_toml(tmp_path, api_port, ocpp_port))
    created = v2g("station", "create", "--id", "CS-E2E", "--config", str(site))
    assert created.returncode == 0, created.stderr
    (tmp_path / "password").write_text(created.stdout.strip())
    token = v2g("token", "create", "--role", "operator", "--config", str(site)).stdout.strip()
    spec = LoopbackSpec(
        protocol="iso20-ac-bpt",
        session_timeout_s=300,
        # Long enough to charge, discharge, lose the CSMS for a profile lifetime and
        # see it back (about 60 s of the session; 220 x 0.4 s leaves 25 s to spare).
        charge_loop_cycles=220,
        charge_loop_delay_s=0.4,
    )
    spec.write(tmp_path / "spec.json")
    serve_log, secc_log = tmp_path / "serve.log", tmp_path / "secc.log"
    now = datetime.now(UTC)
    event = {
        "id": "evt-e2e",
        "modification_number": 1,
        "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
        "kind": "export_w",
        "value": 5000,
    }
    with veth_link(f"o{os.getpid()}") as (charger, vehicle):
        charger_file = tmp_path / "charger.toml"
        charger_file.write_text(charger_toml(tmp_path, charger.interface, ocpp_port))
        with (
            serve(charger, site, serve_log) as first,
            v2g_process(charger, secc_log, "secc", "--config", str(charger_file)),
        ):

            def dr_event() -> float:
                post_in(charger, api_port, token, "/api/v1/dr-events", event)
                return time.time()

            posted_at, killed_at, back_at = drive_through_an_outage(
                tmp_path, charger, vehicle, first, (site, serve_log, secc_log), dr_event
            )
    result = json.loads((tmp_path / "vehicle.json").read_text())
    loop = targets(result["received"])
    assert loop, (tmp_path / "ev.log").read_text()[-2000:]
    before = [w for at, w in loop if at < killed_at]
    assert min(before) < 0, before  # the EV's charge loop showed the discharge setpoint
    first_discharge = next(at for at, w in loop if w < 0)
    assert first_discharge > posted_at
    print(
        f"DR event posted -> first EV charge-loop answer with the discharge:"
        f" {first_discharge - posted_at:.2f} s (control interval 2 s;"
        f" load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])})"
    )
    expired = [w for at, w in loop if killed_at + PROFILE_S + 2 < at < back_at]
    assert expired, loop
    assert all(w >= 0 for w in expired), expired  # the fallback never discharges
    assert FALLBACK_W in expired

    offline = offline_events(tmp_path)
    assert offline, serve_log.read_text()[-3000:]
    seq_nos = [seq for seq, _ in offline]
    assert seq_nos == sorted(seq_nos)  # arrived in the order they were queued
    received = [at for _, at in offline]
    assert received == sorted(received)
    assert all(seq_nos), offline


def drive_through_an_outage(
    folder: Path,
    charger: NetnsEnd,
    vehicle: NetnsEnd,
    csms: subprocess.Popen[bytes],
    files: tuple[Path, Path, Path],
    dr_event: Callable[[], float],
) -> tuple[float, float, float]:
    """The EV's session: once it charges on a profile from the CSMS a DR export event
    is posted; once its discharge profile reached the station the CSMS is killed, and
    started again after that profile expired. Returns (posted, killed, back) times."""
    site, serve_log, secc_log = files
    with (folder / "ev.log").open("w") as ev_log:
        ev = subprocess.Popen(
            vehicle.command(
                sys.executable,
                "-m",
                "v2g.secc.loopback.vehicle",
                str(folder / "spec.json"),
                vehicle.interface,
                str(folder / "vehicle.json"),
            ),
            stdout=subprocess.DEVNULL,
            stderr=ev_log,
        )
    try:
        wait_for_line(secc_log, "from the CSMS", 90)  # charging on the plan
        time.sleep(2)
        posted_at = dr_event()
        # The plan's discharge reaches the station as a profile.
        wait_for_line(secc_log, "power_w=-", 90)
        time.sleep(3)  # a few charge loops with it
        csms.send_signal(signal.SIGKILL)  # the CSMS goes away
        csms.wait(timeout=10)
        killed_at = time.time()
        time.sleep(PROFILE_S + 8)
        back_at = time.time()
        with serve(charger, site, serve_log):
            ev.wait(timeout=300)
            # The station reconnects (with backoff) and sends its queue.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not offline_events(folder):
                time.sleep(1)
            time.sleep(3)
    finally:
        if ev.poll() is None:
            ev.kill()
        ev.wait(timeout=10)
    return posted_at, killed_at, back_at


def offline_events(folder: Path) -> list[tuple[int, str]]:
    """(seqNo, received_at) of the TransactionEvents stored as sent offline."""
    with sqlite3.connect(folder / "v2g.db", timeout=10) as db:
        rows = db.execute(
            "SELECT seq_no, received_at FROM ocpp_transaction_events WHERE offline "
            "ORDER BY received_at, rowid"
        ).fetchall()
    return [(int(seq), str(at)) for seq, at in rows]
