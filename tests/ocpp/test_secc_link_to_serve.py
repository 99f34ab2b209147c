"""Both OCPP sides of this product together: the charging-station link that
``v2g secc`` runs, against a real ``v2g serve`` process as the CSMS. A V2X session
reported by the station appears in the fleet, and a DR export event comes back into
the EVSE's mailbox as a discharge setpoint."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.ocpp.processes import Service, api, free_port, v2g
from tests.service.processes import SITE_HEAD, report_v2x_session
from v2g.clock import SystemClock
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_config import OcppStationConfig
from v2g.secc.mailbox import SetpointMailbox

SITE = (
    SITE_HEAD
    + """[ocpp]
listen = "127.0.0.1:{ocpp_port}"
[[charger]]
evse_id = "DE*V2G*E0001"
station_id = "CS-SECC"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
[[vehicle]]
ev_id = "EV-V2X"
v2g_allowed = true
"""
)


async def eventually(check, timeout_s: float = 30.0):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


@dataclass
class Served:
    """``v2g serve`` running SITE, its station CS-SECC registered."""

    service: Service
    api_port: int
    operator_token: str
    station: OcppStationConfig  # CS-SECC's side, holding DE*V2G*E0001 as evse 1
    password: str


async def serve_site(tmp_path: Path, version: OcppVersion = OcppVersion.V21) -> Served:
    api_port, ocpp_port = free_port(), free_port()
    config = tmp_path / "site.toml"
    config.write_text(SITE.format(data=tmp_path / "data", api_port=api_port, ocpp_port=ocpp_port))
    created = v2g("station", "create", "--id", "CS-SECC", "--config", str(config))
    assert created.returncode == 0, created.stderr
    token = v2g("token", "create", "--role", "operator", "--config", str(config)).stdout.strip()
    service = await asyncio.to_thread(Service, config, api_port, tmp_path / "serve.log")
    station = OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{ocpp_port}/ocpp",
        station_id="CS-SECC",
        password_file=tmp_path / "unused",
        version=version,
        queue_dir=tmp_path / "queue",
        evses={"DE*V2G*E0001": 1},
    )
    return Served(service, api_port, token, station, created.stdout.strip())


async def test_a_secc_station_session_joins_the_fleet_and_a_dr_event_reaches_its_mailbox(
    tmp_path: Path,
) -> None:
    served = await serve_site(tmp_path)
    service, api_port, token = served.service, served.api_port, served.operator_token
    mailbox = SetpointMailbox()
    link = ChargingStationLink(
        served.station, served.password, {"DE*V2G*E0001": mailbox}, SystemClock()
    )
    running = asyncio.create_task(link.run())
    try:
        now = datetime.now(UTC)
        evse = "DE*V2G*E0001"
        report_v2x_session(link, evse, "EV-V2X", now)

        def member():
            fleet = api(api_port, "GET", "/api/v1/fleet", token)[1]
            return next((v for v in fleet["vehicles"] if v["evse_id"] == evse), None)

        assert (await eventually(member))["session_id"] == "CS-SECC/sess-1"
        event = {
            "id": "evt-e2e",
            "modification_number": 1,
            "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(hours=1)).isoformat(),
            "kind": "export_w",
            "value": 5000,
        }
        assert api(api_port, "POST", "/api/v1/dr-events", token, event)[0] == 201

        def discharging():
            setpoint = mailbox.read()
            return setpoint if setpoint is not None and setpoint.power_w < 0 else None

        setpoint = await eventually(discharging)
        assert setpoint.power_w >= -11000
        assert setpoint.valid_until > now
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await asyncio.to_thread(service.stop)
