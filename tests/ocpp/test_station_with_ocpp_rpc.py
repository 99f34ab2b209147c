"""The charging-station side (``ChargingStationLink``, what ``v2g secc`` runs with an
``[ocpp]`` table) against an independent CSMS: ocpp-rpc's RPCServer in strict mode.

Session events are fed in directly (the SECC's event bus would); the received
profiles must land in the EVSE mailboxes; while the CSMS is away events are queued
on disk and arrive in order, marked offline, once it is back."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ocpp.processes import Csms, free_port, node_peer_ready
from v2g.clock import SystemClock
from v2g.ocpp.charging_station import ChargingStationLink, OutboundQueue, load_charger
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_config import OcppStationConfig
from v2g.secc.config import ConfigError
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    TransferLimits,
)

PASSWORD = "a-station-password-0123456789"


async def seen(csms: Csms, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return await asyncio.to_thread(csms.wait_for, wanted, 20.0)


async def drained(link: ChargingStationLink) -> None:
    while len(link.queue):
        await asyncio.sleep(0.05)


def received(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["event"] == "received" and e["action"] == action


def profile(setpoint_w: float, now: datetime) -> dict[str, Any]:
    return {
        "evseId": 1,
        "chargingProfile": {
            "id": 11,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": "s-1",
            "validTo": (now + timedelta(minutes=15)).isoformat(),
            "chargingSchedule": [
                {
                    "id": 11,
                    "chargingRateUnit": "W",
                    "startSchedule": now.isoformat(),
                    "duration": 900,
                    "chargingSchedulePeriod": [
                        {
                            "startPeriod": 0,
                            "operationMode": "CentralSetpoint",
                            "setpoint": setpoint_w,
                        }
                    ],
                }
            ],
        },
    }


def start_v2x_session(link: ChargingStationLink, now: datetime) -> None:
    """What the SECC reports of an ISO 15118-20 DC BPT session's start."""
    link(SessionStarted("E1", "s-1", now, "EV-1", "iso20-dc-bpt"))
    limits = TransferLimits(11000, discharge=DischargeLimits(9000), max_voltage_v=500)
    link(LimitsReported("E1", "s-1", now, limits))
    needs = ChargeNeeds(
        now,
        departure=now + timedelta(hours=8),
        soc_percent=40,
        battery_capacity_wh=60000,
        target_energy_wh=20000,
    )
    link(NeedsReported("E1", "s-1", now, needs))
    link(PowerMeasured("E1", "s-1", now + timedelta(seconds=1), -3000.0, 41.0))


async def test_sessions_reach_an_ocpp_rpc_csms_and_its_profile_reaches_the_mailbox(
    tmp_path: Path,
) -> None:
    node_peer_ready()
    port = free_port()
    config = OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{port}/ocpp",
        station_id="CS-SECC",
        password_file=tmp_path / "password",
        version=OcppVersion.V21,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1},
        meter_interval_s=0.001,
    )
    mailbox = SetpointMailbox()
    link = ChargingStationLink(config, PASSWORD, {"E1": mailbox}, SystemClock())
    csms = Csms(port, "CS-SECC", PASSWORD, "ocpp2.1")
    running = asyncio.create_task(link.run())
    now = datetime.now(UTC)
    try:
        await seen(csms, received("BootNotification"))
        await seen(csms, received("StatusNotification"))
        start_v2x_session(link, now)
        start = await seen(csms, received("TransactionEvent"))
        assert start["params"]["eventType"] == "Started"
        assert start["params"]["idToken"]["idToken"] == "EV-1"
        notified = await seen(csms, received("NotifyEVChargingNeeds"))
        v2x = notified["params"]["chargingNeeds"]["v2xChargingParameters"]
        assert v2x["maxDischargePower"] == 9000
        assert notified["params"]["chargingNeeds"]["requestedEnergyTransfer"] == "DC_BPT"
        meter = await seen(csms, received("TransactionEvent"))
        (sample, soc) = meter["params"]["meterValue"][0]["sampledValue"]
        assert sample == {"value": 3000.0, "measurand": "Power.Active.Export"}
        assert soc["value"] == 41.0

        answer = await asyncio.to_thread(csms.call, "SetChargingProfile", profile(-4500, now))
        assert answer["result"] == {"status": "Accepted"}
        setpoint = mailbox.read()
        assert setpoint is not None and setpoint.power_w == -4500
        assert abs((setpoint.valid_until - (now + timedelta(minutes=15))).total_seconds()) < 1
        assert not [e for e in csms.seen if e["event"] == "invalid"]

        # The CSMS goes away: events are kept on disk, in order, marked offline.
        csms.close()
        while link.online:
            await asyncio.sleep(0.05)
        link(PowerMeasured("E1", "s-1", now + timedelta(seconds=30), 7000.0, 45.0))
        link(SessionEnded("E1", "s-1", now + timedelta(seconds=40), "unplugged"))
        queued = [
            json.loads(line)
            for line in (tmp_path / "queue" / "CS-SECC.jsonl").read_text().splitlines()
        ]
        assert [q[1]["eventType"] for q in queued] == ["Updated", "Ended"]
        assert all(q[1]["offline"] for q in queued)

        csms = Csms(port, "CS-SECC", PASSWORD, "ocpp2.1")
        await seen(csms, received("BootNotification"))
        later = [(await seen(csms, received("TransactionEvent")))["params"] for _ in range(2)]
        assert [(p["eventType"], p["seqNo"], p["offline"]) for p in later] == [
            ("Updated", 2, True),
            ("Ended", 3, True),
        ]
        await asyncio.wait_for(drained(link), 10)  # each answered, so taken off the disk
        assert not [e for e in csms.seen if e["event"] == "invalid"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        csms.close()


def test_a_queue_left_on_disk_is_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "q" / "CS.jsonl"
    first = OutboundQueue(path)
    for n in range(3):
        first.push("TransactionEvent", {"seqNo": n})
    first.pop()
    again = OutboundQueue(path)
    assert len(again) == 2
    assert again.head() == ("TransactionEvent", {"seqNo": 1})
    again.pop()
    again.pop()
    assert OutboundQueue(path).head() is None


CHARGER = """
codec = "native"
[ocpp]
csms_url = "ws://127.0.0.1:9000/ocpp"
station_id = "CS-SECC"
password_file = "password"
version = "{version}"
queue_dir = "queue"
[[evse]]
evse_id = "DE*V2G*E0001"
interface = "lo"
current = "dc"
max_charge_power_w = 11000
max_discharge_power_w = 11000
ocpp_evse = 2
"""


def test_a_charger_file_with_ocpp_gives_the_secc_its_config_and_the_station_its_link(
    tmp_path: Path,
) -> None:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    path = tmp_path / "charger.toml"
    path.write_text(CHARGER.format(version="2.0.1"))
    secc, ocpp, password = load_charger(path)
    assert [e.evse_id for e in secc.evses] == ["DE*V2G*E0001"]
    assert ocpp is not None and ocpp.evses == {"DE*V2G*E0001": 2}
    assert ocpp.version is OcppVersion.V201
    assert ocpp.url == "ws://127.0.0.1:9000/ocpp/CS-SECC"
    assert ocpp.queue_dir == tmp_path / "queue"
    assert password == PASSWORD


def test_a_bad_ocpp_part_of_a_charger_file_is_named_with_the_secc_problems(
    tmp_path: Path,
) -> None:
    path = tmp_path / "charger.toml"
    path.write_text(CHARGER.format(version="1.6").replace('current = "dc"', 'current = "hvdc"'))
    with pytest.raises(ConfigError) as raised:
        load_charger(path)
    problems = " | ".join(raised.value.problems)
    assert "ocpp.version" in problems and "current" in problems
