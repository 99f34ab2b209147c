"""A vehicle's needs from what it actually says, end to end (issue 19): `v2g serve` with
the SECC in its process, a real iso15118 EVCC in another network namespace, a DR event
through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.processes import v2g_process
from tests.integration.scripted_vehicle import MIN_WH, POWER_W
from v2g.secc.loopback.netns import NetnsEnd, veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns

ROOT = Path(__file__).parents[2]
EVSE = "DE*V2G*E0042"
CHARGER_DISCHARGE_W = 11_000.0

_CALL = """
import json, sys, urllib.request, urllib.error
port, method, path, token, body = json.loads(sys.argv[1])
request = urllib.request.Request(
    f"http://127.0.0.1:{port}{path}", method=method,
    data=None if body is None else json.dumps(body).encode(),
    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
)
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(json.dumps([response.status, json.loads(response.read())]))
except urllib.error.HTTPError as error:
    print(json.dumps([error.code, json.loads(error.read() or b"null")]))
"""


def api(end: NetnsEnd, port: int, method: str, path: str, token: str, body: object = None) -> Any:
    """One API call from inside the charger's namespace (where `v2g serve` listens)."""
    done = subprocess.run(
        end.command(sys.executable, "-c", _CALL, json.dumps([port, method, path, token, body])),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def token(config: Path, role: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "v2g", "token", "create", "--role", role, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def write_site(tmp_path: Path, interface: str, current: str, port: int, extra: str = "") -> Path:
    dc = "max_current_a = 125\nmax_voltage_v = 500\nmin_voltage_v = 150\n"
    (tmp_path / "charger.toml").write_text(
        f'[[evse]]\nevse_id = "{EVSE}"\ninterface = "{interface}"\ncurrent = "{current}"\n'
        f"max_charge_power_w = 22000\nmax_discharge_power_w = {CHARGER_DISCHARGE_W:.0f}\n"
        f"fallback_power_w = 3000\n" + (dc if current == "dc" else "max_current_a = 32\n"),
        encoding="utf-8",
    )
    site = tmp_path / "site.toml"
    site.write_text(
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path}/v2g.db"\n'
        f'[api]\nport = {port}\n[grid]\nnetwork = "cigre-lv"\n'
        "[control]\ninterval_s = 1\n"
        f'[[charger]]\nevse_id = "{EVSE}"\nbus = "Bus R11"\n'
        f"max_charge_power_w = 22000\nmax_discharge_power_w = {CHARGER_DISCHARGE_W:.0f}\n"
        f'{extra}[secc]\nconfig = "charger.toml"\n',
        encoding="utf-8",
    )
    return site


def run_vehicle_while_watching(
    charger: NetnsEnd,
    vehicle: NetnsEnd,
    ev: str,
    spec_path: Path,
    result_path: Path,
    watch: Any,
) -> list[Any]:
    """Run the scripted EV's session (``ev``: "mandatory" or "package", see
    scripted_vehicle.py); call ``watch()`` once a second meanwhile, collecting what it
    returns. Returns the collected observations."""
    seen = []
    module = "tests.integration.scripted_vehicle"
    with subprocess.Popen(
        vehicle.command(
            sys.executable, "-m", module, str(spec_path), vehicle.interface, str(result_path)
        ),
        cwd=ROOT,
        env={**os.environ, "V2G_TEST_EV": ev},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as session:
        deadline = time.monotonic() + 180
        while session.poll() is None and time.monotonic() < deadline:
            seen.append(watch())
            time.sleep(1.0)
        if session.poll() is None:
            session.kill()
    return seen


def loop_targets_w(result: dict[str, Any]) -> list[float]:
    """The power each DC charge-loop answer told the EV to follow (W, + = charging)."""
    from v2g.secc.translation import target_power_w

    targets = []
    for message in result["received"]:
        if message["name"] in ("DC_ChargeLoopRes", "CurrentDemandRes", "ChargingStatusRes"):
            power = target_power_w(message["body"])
            if power is not None:
                targets.append(power)
    return targets


def stored_wh(fleet_power_w: list[float], slot_ends_s: list[float]) -> float:
    """Energy into the battery over a plan (charge 0.95, discharge 1/0.95: the default
    Efficiency); slots differ in length (clock-aligned, cut at DR boundaries)."""
    starts_s = [0.0, *slot_ends_s[:-1]]
    lengths_s = [end - start for start, end in zip(starts_s, slot_ends_s, strict=True)]
    return sum(
        (p * 0.95 if p >= 0 else p / 0.95) * length_s / 3600
        for p, length_s in zip(fleet_power_w, lengths_s, strict=True)
    )


def test_a_20_vehicle_without_soc_discharges_for_a_dr_event_within_its_v2x_limits(tmp_path):
    """Issue 19: a -20 DC_BPT dynamic vehicle sends only the mandatory elements (energy
    requests, V2X requests, departure; no DisplayParameters, no SoC). A 5 kW export event
    makes it discharge, within its limits, and the plan still gets it its minimum."""
    port = 18_000 + os.getpid() % 1000
    # 75 loops 0.4 s apart (the 30 s the session spanned at one loop a second).
    spec = LoopbackSpec(protocol="iso20-dc-bpt", session_timeout_s=150, charge_loop_cycles=75)
    spec.write(tmp_path / "spec.json")
    owner = f'[[vehicle]]\nev_id = "{EVSE}"\nv2g_allowed = true\naccept_shortfall = true\n'
    with veth_link(f"n{os.getpid()}") as (charger, vehicle):
        site = write_site(tmp_path, charger.interface, "dc", port, owner)
        utility, viewer = token(site, "utility"), token(site, "viewer")
        log_path = tmp_path / "serve.log"
        with v2g_process(charger, log_path, "serve", "--config", str(site)):
            now = datetime.now(UTC)
            event = {
                "id": "export-1",
                "start": (now - timedelta(minutes=1)).isoformat(),
                "end": (now + timedelta(hours=1)).isoformat(),
                "kind": "export_w",
                "value": 5000,
            }
            assert api(charger, port, "POST", "/api/v1/dr-events", utility, event)[0] == 201

            seen = run_vehicle_while_watching(
                charger,
                vehicle,
                "mandatory",
                tmp_path / "spec.json",
                tmp_path / "vehicle.json",
                lambda: views(charger, port, viewer),
            )
    logged = log_path.read_text()[-4000:]
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"], logged

    targets = loop_targets_w(result)
    assert any(t < 0 for t in targets), (targets, logged)
    # Within the EV's, the charger's and the event's limits: 5 kW export, not more.
    assert min(targets) >= -min(POWER_W, CHARGER_DISCHARGE_W, 5000 + 50), targets

    rows = [
        (row, plan, envelope)
        for fleet, plan, envelope in seen
        for row in (fleet or {}).get("vehicles", [])
        if row["evse_id"] == EVSE and row["needs_source"] == "ev energy requests"
    ]
    assert rows, seen[-3:]
    row, plan, envelope = rows[-1]
    assert row["soc_percent"] is None and row["needs_guessed"] is None
    departure = datetime.fromisoformat(row["expected_departure"])
    left_s = (departure - datetime.now(UTC)).total_seconds()
    assert 6600 <= left_s <= 7300, row
    # The plan discharges now and still gets the vehicle its minimum by departure.
    assert plan["fleet_power_w"][0] < 0, plan
    assert stored_wh(plan["fleet_power_w"], plan["slot_ends_s"]) >= MIN_WH - 200, plan
    assert envelope["min_energy_wh"][-1] >= MIN_WH - 200, envelope
    # Nothing after its departure.
    leaves = sum(end < left_s for end in envelope["slot_ends_s"]) + 2
    assert not any(envelope["upper_w"][leaves:]) and not any(envelope["lower_w"][leaves:])


def views(charger: Any, port: int, viewer: str) -> tuple[Any, Any, Any]:
    """What the API shows of the fleet, the plan and the envelope right now."""
    fleet = api(charger, port, "GET", "/api/v1/fleet", viewer)[1]
    plan = api(charger, port, "GET", "/api/v1/plan", viewer)[1]
    envelope = api(charger, port, "GET", "/api/v1/envelope", viewer)[1]
    return fleet, plan, envelope


@pytest.mark.parametrize(
    ("protocol", "current", "source"),
    [("din-dc", "dc", "site default"), ("iso2-ac", "ac", "ev energy requests")],
)
def test_a_din_or_2_vehicle_without_soc_gets_the_site_default_not_full_power(
    tmp_path, protocol, current, source
):
    """The package's DIN EV sends a SoC but no capacity and no energy request; its -2 AC
    EV sends only EAmount and DepartureTime 0. Neither is must-run: no band past the
    (guessed) departure, no discharge, and the plan names the guess."""
    port = 18_000 + os.getpid() % 1000 + 1
    spec = LoopbackSpec(protocol=protocol, session_timeout_s=150, charge_loop_cycles=8)
    spec.write(tmp_path / "spec.json")
    needs = "[needs]\ndefault_energy_wh = 4000\ndefault_dwell_s = 3600\n"
    with veth_link(f"m{os.getpid()}") as (charger, vehicle):
        site = write_site(tmp_path, charger.interface, current, port, needs)
        viewer = token(site, "viewer")
        log_path = tmp_path / "serve.log"
        with v2g_process(charger, log_path, "serve", "--config", str(site)):
            seen = run_vehicle_while_watching(
                charger,
                vehicle,
                "package",
                tmp_path / "spec.json",
                tmp_path / "vehicle.json",
                lambda: views(charger, port, viewer),
            )
    logged = log_path.read_text()[-4000:]
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"], logged
    assert all(t >= 0 for t in loop_targets_w(result))

    rows = [
        (row, plan, envelope)
        for fleet, plan, envelope in seen
        for row in (fleet or {}).get("vehicles", [])
        if row["evse_id"] == EVSE and row["needs_source"] == source
    ]
    assert rows, seen[-3:]
    row, plan, envelope = rows[-1]
    assert row["needs_guessed"] and "departure" in row["needs_guessed"], row
    assert any(EVSE in note and "needs guessed" in note for note in plan["notes"]), plan
    assert envelope["lower_w"][0] == 0 and envelope["upper_w"][0] > 0, envelope
    assert min(envelope["lower_w"]) >= 0
    # Default dwell 1 h from plug-in (before the envelope's start): nothing in a slot
    # that starts an hour or more after it. Slots follow the clock, so the first one is
    # short and the departure falls inside the fifth (slot_ends_s).
    starts_s = [0.0, *envelope["slot_ends_s"][:-1]]
    late = [u for u, s in zip(envelope["upper_w"], starts_s, strict=True) if s >= 3600]
    assert late and not any(late), envelope["upper_w"][:8]
