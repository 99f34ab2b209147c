"""Remote operations at the charging-station side (``ChargingStationLink``, what
``v2g secc`` runs) called by an independent CSMS: ocpp-rpc in strict mode, which
checks every answer against the official schema. OCPP 2.1 and 2.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ocpp.processes import Csms, free_port, node_peer_ready
from tests.ocpp.test_station_with_ocpp_rpc import PASSWORD, received, seen
from v2g.clock import SystemClock
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_config import OcppStationConfig
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import SessionStarted


@dataclass
class Rig:
    csms: Csms
    link: ChargingStationLink
    mailboxes: dict[str, SetpointMailbox]
    version: OcppVersion
    now: datetime

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = await asyncio.to_thread(self.csms.call, action, params)
        assert answer["event"] == "result", answer
        return dict(answer["result"])

    def profile(self, power_w: float, profile_id: int = 11) -> dict[str, Any]:
        period: dict[str, Any] = {"startPeriod": 0}
        if self.version is OcppVersion.V21:
            period |= {"operationMode": "CentralSetpoint", "setpoint": power_w}
        else:
            period["limit"] = power_w
        return {
            "evseId": 1,
            "chargingProfile": {
                "id": profile_id,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "transactionId": "s-1",
                "chargingSchedule": [
                    {
                        "id": profile_id,
                        "chargingRateUnit": "W",
                        "startSchedule": self.now.isoformat(),
                        "duration": 600,
                        "chargingSchedulePeriod": [period],
                    }
                ],
            },
        }

    def token(self, value: str) -> dict[str, str]:
        return {"idToken": value, "type": "Central"}


@pytest.fixture(params=[OcppVersion.V21, OcppVersion.V201], ids=str)
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    node_peer_ready()
    version = request.param
    port = free_port()
    config = OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{port}/ocpp",
        station_id="CS-SECC",
        password_file=tmp_path / "password",
        version=version,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1, "E2": 2, "E3": 3},
        meter_interval_s=0.001,
    )
    mailboxes = {e: SetpointMailbox() for e in ("E1", "E2", "E3")}
    link = ChargingStationLink(config, PASSWORD, mailboxes, SystemClock())
    csms = Csms(port, "CS-SECC", PASSWORD, str(version))
    running = asyncio.create_task(link.run())
    try:
        await seen(csms, received("BootNotification"))
        for _ in range(3):
            await seen(csms, received("StatusNotification"))
        yield Rig(csms, link, mailboxes, version, datetime.now(UTC))
        assert not [e for e in csms.seen if e["event"] == "invalid"]
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        csms.close()


async def started(rig: Rig, evse_id: str, session_id: str, ev_id: str) -> dict[str, Any]:
    rig.link(SessionStarted(evse_id, session_id, rig.now, ev_id, "iso20-ac-bpt"))
    event = await seen(rig.csms, received("TransactionEvent"))
    assert event["params"]["eventType"] == "Started"
    return dict(event["params"])


async def test_the_composite_schedule_is_the_mailbox_profile_and_clearing_empties_it(rig) -> None:
    await started(rig, "E1", "s-1", "EV-1")
    assert (await rig.call("SetChargingProfile", rig.profile(4500)))["status"] == "Accepted"
    answer = await rig.call(
        "GetCompositeSchedule", {"duration": 3600, "evseId": 1, "chargingRateUnit": "W"}
    )
    assert answer["status"] == "Accepted"
    periods = answer["schedule"]["chargingSchedulePeriod"]
    power = "setpoint" if rig.version is OcppVersion.V21 else "limit"
    # The profile until it expires (600 s), then the fallback: nothing planned.
    assert [(p["startPeriod"], p[power]) for p in periods] == [(0, 4500), (600, 0)]
    amps = {"duration": 60, "evseId": 1, "chargingRateUnit": "A"}
    assert (await rig.call("GetCompositeSchedule", amps))["status"] == "Rejected"

    assert (await rig.call("ClearChargingProfile", {"chargingProfileId": 11}))["status"] == (
        "Accepted"
    )
    assert rig.mailboxes["E1"].read() is None
    assert (await rig.call("ClearChargingProfile", {"chargingProfileId": 11}))["status"] == (
        "Unknown"
    )


async def test_triggered_messages_are_sent_after_the_answer(rig) -> None:
    await started(rig, "E1", "s-1", "EV-1")
    heartbeat = {"requestedMessage": "Heartbeat"}
    assert (await rig.call("TriggerMessage", heartbeat))["status"] == "Accepted"
    await seen(rig.csms, received("Heartbeat"))
    status = {"requestedMessage": "StatusNotification", "evse": {"id": 1}}
    assert (await rig.call("TriggerMessage", status))["status"] == "Accepted"
    notified = await seen(rig.csms, received("StatusNotification"))
    assert (notified["params"]["evseId"], notified["params"]["connectorStatus"]) == (1, "Occupied")
    transaction = {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}
    assert (await rig.call("TriggerMessage", transaction))["status"] == "Accepted"
    event = await seen(rig.csms, received("TransactionEvent"))
    assert (event["params"]["triggerReason"], event["params"]["seqNo"]) == ("Trigger", 1)
    idle = {"requestedMessage": "TransactionEvent", "evse": {"id": 2}}
    assert (await rig.call("TriggerMessage", idle))["status"] == "Rejected"
    meter = {"requestedMessage": "MeterValues"}
    assert (await rig.call("TriggerMessage", meter))["status"] == "NotImplemented"


async def test_a_reservation_holds_its_evse_for_its_own_token_only(rig) -> None:
    later = (rig.now + timedelta(hours=1)).isoformat()
    reserve = {"id": 7, "expiryDateTime": later, "idToken": rig.token("TOK-A"), "evseId": 2}
    assert (await rig.call("ReserveNow", reserve))["status"] == "Accepted"
    reserved = await seen(rig.csms, received("StatusNotification"))
    assert (reserved["params"]["evseId"], reserved["params"]["connectorStatus"]) == (2, "Reserved")
    other = {**reserve, "id": 8, "idToken": rig.token("TOK-B")}
    assert (await rig.call("ReserveNow", other))["status"] == "Occupied"

    start_b = {"evseId": 2, "remoteStartId": 41, "idToken": rig.token("TOK-B")}
    assert (await rig.call("RequestStartTransaction", start_b))["status"] == "Rejected"
    start_a = {"evseId": 2, "remoteStartId": 42, "idToken": rig.token("TOK-A")}
    assert (await rig.call("RequestStartTransaction", start_a))["status"] == "Accepted"
    # The EV arrives: the transaction is the remote start, and uses the reservation up.
    params = await started(rig, "E2", "s-2", "EV-2")
    assert params["triggerReason"] == "RemoteStart"
    assert params["transactionInfo"]["remoteStartId"] == 42
    assert params["idToken"]["idToken"] == "TOK-A"
    assert not rig.mailboxes["E2"].stop_requested("s-2")
    again = {"evseId": 2, "remoteStartId": 43, "idToken": rig.token("TOK-A")}
    assert await rig.call("RequestStartTransaction", again) == {
        "status": "Accepted",
        "transactionId": "s-2",
    }

    # A session with another token at a reserved EVSE is refused (asked to end).
    held = {"id": 9, "expiryDateTime": later, "idToken": rig.token("TOK-C"), "evseId": 3}
    assert (await rig.call("ReserveNow", held))["status"] == "Accepted"
    await started(rig, "E3", "s-3", "EV-X")
    assert rig.mailboxes["E3"].stop_requested("s-3")
    assert (await rig.call("CancelReservation", {"reservationId": 9}))["status"] == "Accepted"
    assert (await rig.call("CancelReservation", {"reservationId": 9}))["status"] == "Rejected"


async def test_a_remote_stop_ends_the_session_through_the_mailbox(rig) -> None:
    await started(rig, "E1", "s-1", "EV-1")
    assert (await rig.call("SetChargingProfile", rig.profile(3000)))["status"] == "Accepted"
    stop = {"transactionId": "s-1"}
    assert (await rig.call("RequestStopTransaction", stop))["status"] == "Accepted"
    assert rig.mailboxes["E1"].stop_requested("s-1")
    assert not rig.mailboxes["E1"].stop_requested("s-9")  # never another session
    assert rig.mailboxes["E1"].read() is None  # nothing more planned for it
    unknown = {"transactionId": "s-9"}
    assert (await rig.call("RequestStopTransaction", unknown))["status"] == "Rejected"


async def test_a_reset_waits_for_idle_or_reboots_at_once(rig) -> None:
    await started(rig, "E1", "s-1", "EV-1")
    assert (await rig.call("Reset", {"type": "OnIdle"}))["status"] == "Scheduled"
    assert (await rig.call("Reset", {"type": "Immediate"}))["status"] == "Accepted"
    assert rig.mailboxes["E1"].stop_requested("s-1")
    await seen(rig.csms, lambda e: e["event"] == "disconnected")
    boot = await seen(rig.csms, received("BootNotification"))
    assert boot["params"]["reason"] == "RemoteReset"
    assert (await rig.call("Reset", {"type": "OnIdle", "evseId": 9}))["status"] == "Rejected"
