"""`v2g` as a user runs it, from the tests: a free port, one command, the API over
HTTP, and `v2g serve` as a process (up once its first cycle ran)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEvent,
    SessionStarted,
    TransferLimits,
)

#: The top of a site file for ``v2g serve``: its store under ``{data}``, its API on
#: ``{api_port}``, a cycle a second over eight 15-minute slots. Tests append chargers,
#: ``[ocpp]`` or ``[openadr]`` (a ``[control]`` key first, as it is the last table).
SITE_HEAD = """
[store]
url = "sqlite+aiosqlite:///{data}/v2g.db"
[api]
port = {api_port}
[control]
interval_s = 1
slot_s = 900
horizon_slots = 8
"""
#: One 11 kW bidirectional charger, not over OCPP.
CHARGER_E1 = """[[charger]]
evse_id = "E1"
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def v2g(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "v2g", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def api(port: int, method: str, path: str, token: str, body: object = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Service:
    """``v2g serve --config`` until ``stop``; up once its first cycle ran (within
    ``up_within_s``). It imports this checkout's ``v2g`` whatever the working folder."""

    def __init__(self, config: Path, port: int, log: Path, up_within_s: float = 60) -> None:
        self.port = port
        self.log = log
        root = str(Path(__file__).parents[2])
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        with log.open("a") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "v2g", "serve", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
                env={**os.environ, "PYTHONPATH": path},
            )
        deadline = time.monotonic() + up_within_s
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/v1/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if json.loads(response.read())["cycle"]:
                        return
            except OSError:
                pass
            assert self.process.poll() is None, log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"v2g serve did not come up: {log.read_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)


def report_v2x_session(
    link: Callable[[SessionEvent], None], evse: str, ev_id: str, now: datetime
) -> None:
    """What an SECC reports of an ISO 15118-20 DC BPT session "sess-1" on ``evse``: 11 kW
    either way, 60 % of 60 kWh, leaving in 8 h (±24 kWh to go), 5 kW flowing."""
    link(SessionStarted(evse, "sess-1", now, ev_id, "iso20-dc-bpt"))
    limits = TransferLimits(11000, discharge=DischargeLimits(11000), max_voltage_v=500)
    link(LimitsReported(evse, "sess-1", now, limits))
    needs = ChargeNeeds(
        now,
        departure=now + timedelta(hours=8),
        soc_percent=60,
        battery_capacity_wh=60000,
        min_energy_wh=-24000,
        target_energy_wh=12000,
        max_energy_wh=24000,
    )
    link(NeedsReported(evse, "sess-1", now, needs))
    link(PowerMeasured(evse, "sess-1", now, 5000.0, 60.0))
