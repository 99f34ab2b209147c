"""``v2g serve`` as a CSMS against an independent OCPP implementation: ocpp-rpc (Node,
strict mode, every frame checked against the official schemas) scripted as charging
stations, over real WebSockets on loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.ocpp.processes import Service, Station, api, free_port, node_peer_ready, v2g
from tests.service.processes import SITE_HEAD

SITE = (
    SITE_HEAD
    + """[ocpp]
listen = "127.0.0.1:{ocpp_port}"
security_profile = 1
[[charger]]
evse_id = "E1"
station_id = "CS-001"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
[[charger]]
evse_id = "E2"
station_id = "CS-002"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000

[[charger]]
evse_id = "E3"
station_id = "CS-003"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
[[vehicle]]
ev_id = "EV-V2X"
v2g_allowed = true
reserve_soc_percent = 20
"""
)


def now_text(offset_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z")


def boot() -> dict[str, object]:
    return {"reason": "PowerUp", "chargingStation": {"model": "Test", "vendorName": "ocpp-rpc"}}


def started(transaction_id: str, id_token: str, power_w: float, soc: float | None = None):
    samples: list[dict[str, object]] = [
        {"value": power_w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}
    ]
    if soc is not None:
        samples.append({"value": soc, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}})
    return {
        "eventType": "Started",
        "timestamp": now_text(),
        "triggerReason": "CablePluggedIn",
        "seqNo": 0,
        "transactionInfo": {"transactionId": transaction_id, "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": id_token, "type": "Central"},
        "meterValue": [{"timestamp": now_text(), "sampledValue": samples}],
    }


def updated(transaction_id: str, seq_no: int, power_w: float) -> dict[str, object]:
    return {
        "eventType": "Updated",
        "timestamp": now_text(),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id},
        "meterValue": [
            {
                "timestamp": now_text(),
                "sampledValue": [{"value": power_w, "measurand": "Power.Active.Import"}],
            }
        ],
    }


V2X_NEEDS = {
    "evseId": 1,
    "chargingNeeds": {
        "requestedEnergyTransfer": "DC_BPT",
        "departureTime": now_text(8 * 3600),
        "dcChargingParameters": {
            "evMaxCurrent": 200,
            "evMaxVoltage": 500,
            "evEnergyCapacity": 60000,
            "stateOfCharge": 60,
        },
        "v2xChargingParameters": {
            "maxChargePower": 11000,
            "maxDischargePower": 11000,
            "evMinEnergyRequest": -24000,
            "evTargetEnergyRequest": 12000,
            "evMaxEnergyRequest": 24000,
        },
    },
}


@dataclass
class Site:
    port: int
    ocpp_url: str
    operator: str
    passwords: dict[str, str]
    database: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    node_peer_ready()
    folder = tmp_path_factory.mktemp("csms")
    api_port, ocpp_port = free_port(), free_port()
    config = folder / "site.toml"
    config.write_text(SITE.format(data=folder / "data", api_port=api_port, ocpp_port=ocpp_port))
    passwords = {}
    for station_id in ("CS-001", "CS-002", "CS-003"):
        done = v2g("station", "create", "--id", station_id, "--config", str(config))
        assert done.returncode == 0, done.stderr
        passwords[station_id] = done.stdout.strip()
    again = v2g("station", "create", "--id", "CS-001", "--config", str(config))
    assert again.returncode == 2 and "already exists" in again.stderr
    token = v2g("token", "create", "--role", "operator", "--config", str(config))
    assert token.returncode == 0, token.stderr
    service = Service(config, api_port, folder / "serve.log")
    try:
        yield Site(
            api_port,
            f"ws://127.0.0.1:{ocpp_port}/ocpp",
            token.stdout.strip(),
            passwords,
            folder / "data" / "v2g.db",
        )
    finally:
        service.stop()


def station(site: Site, identity: str, protocol: str, password: str | None = None) -> Station:
    peer = Station(site.ocpp_url, identity, password or site.passwords[identity], protocol)
    return peer


def meter_rows(site: Site, session_id: str) -> int:
    with sqlite3.connect(site.database) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM meter_values WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
        )


def fleet_row(site: Site, evse_id: str) -> dict[str, object] | None:
    status, fleet = api(site.port, "GET", "/api/v1/fleet", site.operator)
    assert status == 200
    return next((v for v in fleet["vehicles"] if v["evse_id"] == evse_id), None)


def wait_until(check, timeout_s: float = 20.0):
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_a_v21_station_joins_the_fleet_and_a_dr_export_event_reaches_it_as_a_negative_setpoint(
    site: Site,
) -> None:
    peer = station(site, "CS-001", "ocpp2.1")
    try:
        assert peer.opened == {"event": "open", "protocol": "ocpp2.1"}
        answer = peer.call("BootNotification", boot())
        assert answer["event"] == "result", answer
        assert answer["result"]["status"] == "Accepted"
        status = {
            "timestamp": now_text(),
            "connectorStatus": "Occupied",
            "evseId": 1,
            "connectorId": 1,
        }
        assert peer.call("StatusNotification", status)["event"] == "result"
        assert peer.call("Heartbeat", {})["result"]["currentTime"]
        assert peer.call("TransactionEvent", started("tx-1", "EV-V2X", 7000, 60))["event"] == (
            "result"
        )
        needs = peer.call("NotifyEVChargingNeeds", V2X_NEEDS)
        assert needs["result"] == {"status": "Accepted"}

        member = wait_until(lambda: fleet_row(site, "E1"))
        assert member["session_id"] == "CS-001/tx-1"

        event = {
            "id": "evt-ocpp",
            "modification_number": 1,
            "start": now_text(-60),
            "end": now_text(3600),
            "kind": "export_w",
            "value": 5000,
        }
        assert api(site.port, "POST", "/api/v1/dr-events", site.operator, event)[0] == 201
        profile = peer.wait_for(
            lambda e: (
                e["event"] == "received"
                and e["action"] == "SetChargingProfile"
                and e["params"]["chargingProfile"]["chargingSchedule"][0][
                    "chargingSchedulePeriod"
                ][0]["setpoint"]
                < 0
            ),
            timeout_s=30,
        )
        charging = profile["params"]["chargingProfile"]
        assert charging["chargingProfilePurpose"] == "TxProfile"
        assert charging["transactionId"] == "tx-1"
        period = charging["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        assert period["operationMode"] == "CentralSetpoint"
        assert -11000 <= period["setpoint"] < 0
        assert not [e for e in peer.seen if e["event"] == "invalid"]
    finally:
        api(site.port, "DELETE", "/api/v1/dr-events/evt-ocpp", site.operator)
        peer.close()


def test_a_plain_201_charger_joins_as_a_unidirectional_vehicle_and_gets_charge_limits_only(
    site: Site,
) -> None:
    peer = station(site, "CS-002", "ocpp2.0.1")
    try:
        assert peer.opened["protocol"] == "ocpp2.0.1"
        assert peer.call("BootNotification", boot())["result"]["status"] == "Accepted"
        assert peer.call("TransactionEvent", started("tx-9", "RFID-1", 3000))["event"] == "result"
        member = wait_until(lambda: fleet_row(site, "E2"))
        assert member["session_id"] == "CS-002/tx-9"
        profile = peer.wait_for(
            lambda e: e["event"] == "received" and e["action"] == "SetChargingProfile",
            timeout_s=30,
        )
        period = profile["params"]["chargingProfile"]["chargingSchedule"][0][
            "chargingSchedulePeriod"
        ][0]
        assert period["limit"] >= 0 and "setpoint" not in period
        assert not [e for e in peer.seen if e["event"] == "invalid"]
    finally:
        peer.close()


def test_bad_frames_are_answered_per_the_spec_and_change_nothing(site: Site) -> None:
    peer = station(site, "CS-001", "ocpp2.1")
    try:
        assert peer.raw("this is not json")[:3] == [4, "-1", "RpcFrameworkError"]
        missing = peer.raw([2, "m-1", "BootNotification", {"reason": "PowerUp"}])
        assert missing[:3] == [4, "m-1", "OccurrenceConstraintViolation"]
        wrong_type = peer.raw(
            [
                2,
                "m-2",
                "BootNotification",
                {**boot(), "chargingStation": {"model": 7, "vendorName": "x"}},
            ]
        )
        assert wrong_type[:3] == [4, "m-2", "TypeConstraintViolation"]
        unknown_field = peer.raw([2, "m-3", "Heartbeat", {"surprise": 1}])
        assert unknown_field[:3] == [4, "m-3", "FormatViolation"]
        assert peer.raw([2, "m-4", "TeleportVehicle", {}])[:3] == [4, "m-4", "NotImplemented"]
        assert peer.raw([9, "m-5", "Heartbeat", {}])[:3] == [4, "m-5", "MessageTypeNotSupported"]

        before = meter_rows(site, "CS-001/tx-1")
        if not wait_until(lambda: before > 0 or meter_rows(site, "CS-001/tx-1"), 5):
            pytest.fail("the first test's transaction left no meter values")
        before = meter_rows(site, "CS-001/tx-1")
        frame = [2, "dup-1", "TransactionEvent", updated("tx-1", 1, 6500)]
        assert peer.raw(frame) == [3, "dup-1", {}]
        assert peer.raw(frame) == [3, "dup-1", {}]  # answered again, processed once
        reused = peer.raw([2, "dup-1", "Heartbeat", {}])
        assert reused[:3] == [4, "dup-1", "RpcFrameworkError"]
        replay = [2, "dup-2", "TransactionEvent", updated("tx-1", 1, 6500)]
        assert peer.raw(replay) == [3, "dup-2", {}]  # same seqNo under a new id: a replay
        wait_until(lambda: meter_rows(site, "CS-001/tx-1") >= before + 1, 5)
        import time

        time.sleep(1.0)
        assert meter_rows(site, "CS-001/tx-1") == before + 1
        assert peer.call("Heartbeat", {})["event"] == "result"
    finally:
        peer.close()


def test_a_station_cannot_speak_for_another_and_the_other_stays_unaffected(site: Site) -> None:
    honest = station(site, "CS-002", "ocpp2.0.1")
    try:
        assert honest.opened["event"] == "open"
        for identity, password in [
            ("CS-002", site.passwords["CS-001"]),  # another station's password
            ("CS-001", site.passwords["CS-002"]),  # its own password, another's id
            ("CS-003", "x" * 32),  # a station nobody registered
        ]:
            impostor = station(site, identity, "ocpp2.0.1", password=password)
            impostor.close()
            assert impostor.opened["event"] == "error" and impostor.opened["status"] == 401
        assert honest.call("Heartbeat", {})["event"] == "result"
    finally:
        honest.close()


OPERATIONS = [
    # (API body, the OCPP request the strict station must receive, its scripted answer)
    (
        {"operation": "reset", "type": "OnIdle"},
        {"type": "OnIdle"},
        {"status": "Scheduled"},
    ),
    (
        {"operation": "clear_charging_profile", "evse_id": "E1"},
        {"chargingProfileCriteria": {"chargingProfilePurpose": "TxProfile", "evseId": 1}},
        {"status": "Accepted"},
    ),
    (
        {"operation": "request_start_transaction", "evse_id": "E1", "id_token": "TOK-1"},
        {"evseId": 1, "idToken": {"idToken": "TOK-1", "type": "Central"}},
        {"status": "Accepted"},
    ),
    (
        {"operation": "request_stop_transaction", "evse_id": "E1"},
        {"transactionId": "tx-ops"},
        {"status": "Accepted"},
    ),
    (
        {
            "operation": "reserve_now",
            "evse_id": "E1",
            "id_token": "TOK-1",
            "expires_at": "2099-01-01T00:00:00Z",
            "reservation_id": 5,
        },
        {
            "id": 5,
            "evseId": 1,
            "expiryDateTime": "2099-01-01T00:00:00Z",
            "idToken": {"idToken": "TOK-1", "type": "Central"},
        },
        {"status": "Occupied"},
    ),
    (
        {"operation": "cancel_reservation", "reservation_id": 5},
        {"reservationId": 5},
        {"status": "Rejected"},
    ),
    (
        {"operation": "trigger_message", "message": "StatusNotification", "evse_id": "E1"},
        {"requestedMessage": "StatusNotification", "evse": {"id": 1}},
        {"status": "Accepted"},
    ),
    (
        {"operation": "get_composite_schedule", "evse_id": "E1", "duration_s": 600},
        {"duration": 600, "evseId": 1, "chargingRateUnit": "W"},
        {"status": "Rejected"},
    ),
]


def test_an_operator_sends_every_remote_operation_through_the_api_and_reads_the_station(
    site: Site,
) -> None:
    peer = station(site, "CS-001", "ocpp2.1")
    url = "/api/v1/stations/CS-001/operations"
    try:
        assert peer.call("BootNotification", boot())["result"]["status"] == "Accepted"
        status = {
            "timestamp": now_text(),
            "connectorStatus": "Occupied",
            "evseId": 1,
            "connectorId": 1,
        }
        assert peer.call("StatusNotification", status)["event"] == "result"
        # The earlier tests' transaction at E1 ends; this test's own starts.
        gone = {**started("tx-1", "EV-V2X", 0), "eventType": "Ended", "seqNo": 99}
        assert peer.call("TransactionEvent", gone)["event"] == "result"
        assert peer.call("TransactionEvent", started("tx-ops", "EV-V2X", 5000))["event"] == (
            "result"
        )
        for body, request, result in OPERATIONS:
            action = {
                "reset": "Reset",
                "clear_charging_profile": "ClearChargingProfile",
                "request_start_transaction": "RequestStartTransaction",
                "request_stop_transaction": "RequestStopTransaction",
                "reserve_now": "ReserveNow",
                "cancel_reservation": "CancelReservation",
                "trigger_message": "TriggerMessage",
                "get_composite_schedule": "GetCompositeSchedule",
            }[str(body["operation"])]
            peer.answer(action, result)
            code, answer = api(site.port, "POST", url, site.operator, body)
            assert code == 200, answer
            assert (answer["action"], answer["response"]) == (action, result)
            got = peer.wait_for(lambda e, a=action: e["event"] == "received" and e["action"] == a)
            params = got["params"]
            params.pop("remoteStartId", None)  # numbered by the CSMS
            assert params == request, action
        # A station that fails the call (strict ocpp-rpc will not send an answer its
        # schema refuses: it sends InternalError instead): 502, nothing claimed.
        peer.answer("Reset", {"status": "Maybe"})
        code, answer = api(
            site.port, "POST", url, site.operator, {"operation": "reset", "type": "Immediate"}
        )
        assert code == 502 and "InternalError" in answer["detail"]
        # Bad bodies change nothing; an EVSE of another station is refused.
        for bad in (
            {"operation": "teleport"},
            {"operation": "reset"},
            {
                "operation": "reserve_now",
                "evse_id": "E2",
                "id_token": "T",
                "expires_at": "2099-01-01T00:00:00Z",
            },
        ):
            assert api(site.port, "POST", url, site.operator, bad)[0] == 400
        assert not [e for e in peer.seen if e["event"] == "invalid" and e["outbound"]]

        # The stations view: online, its connector's state, the transaction once.
        code, found = api(site.port, "GET", "/api/v1/stations/CS-001", site.operator)
        assert code == 200 and found["online"] is True
        assert found["evses"][0]["connectors"][0]["status"] == "Occupied"
        assert "tx-ops" in [t["transaction_id"] for t in found["open_transactions"]]
        code, audit = api(site.port, "GET", "/api/v1/commands", site.operator)
        assert "ocpp:get_composite_schedule" in [c["command"] for c in audit["commands"]]
    finally:
        peer.close()
    offline = wait_until(
        lambda: not api(site.port, "GET", "/api/v1/stations/CS-001", site.operator)[1]["online"]
    )
    assert offline
    code, answer = api(
        site.port, "POST", url, site.operator, {"operation": "reset", "type": "OnIdle"}
    )
    assert code == 409


def reservation(site: Site, reservation_id: str) -> dict[str, object]:
    code, found = api(site.port, "GET", f"/api/v1/reservations/{reservation_id}", site.operator)
    assert code == 200, found
    return dict(found)


def expected_in_plan(site: Site, evse_id: str) -> bool:
    code, plan = api(site.port, "GET", "/api/v1/plan", site.operator)
    notes = plan.get("notes", []) if code == 200 else []
    return any(note.startswith(f"expected: {evse_id} (booking ") for note in notes)


def test_a_booking_is_told_to_its_station_at_its_start_and_cancelled_there(site: Site) -> None:
    """Issue 15: ReserveNow with the driver's token when the booking starts (here: at
    once), CancelReservation when it is cancelled; a station's refusal shows on the
    booking and loses nothing."""
    peer = station(site, "CS-003", "ocpp2.0.1")
    try:
        assert peer.call("BootNotification", boot())["result"]["status"] == "Accepted"
        assert (
            api(
                site.port,
                "POST",
                "/api/v1/drivers",
                site.operator,
                {"driver_id": "dana", "name": "Dana"},
            )[0]
            == 201
        )
        token = {"type": "ISO14443", "value": "04A1B2C3"}
        code, _ = api(site.port, "POST", "/api/v1/drivers/dana/id-tokens", site.operator, token)
        assert code in (200, 201)
        peer.answer("ReserveNow", {"status": "Accepted"})
        peer.answer("CancelReservation", {"status": "Accepted"})
        end = now_text(3600)
        booking = {
            "driver_id": "dana",
            "evse_id": "E3",
            "start": now_text(),
            "end": end,
            "departure": end,
            "energy_wh": 10_000,
        }
        code, made = api(site.port, "POST", "/api/v1/reservations", site.operator, booking)
        assert code == 201, made
        # The planner counts the booked car from its start, until it is cancelled.
        assert wait_until(lambda: expected_in_plan(site, "E3"))

        reserve = peer.wait_for(lambda e: e["event"] == "received" and e["action"] == "ReserveNow")
        sent = reserve["params"]
        assert sent["idToken"] == {"idToken": "04A1B2C3", "type": "ISO14443"}
        assert (sent["evseId"], sent["expiryDateTime"][:19]) == (1, end[:19])
        assert wait_until(lambda: reservation(site, made["reservation_id"])["station"])
        told = reservation(site, made["reservation_id"])
        assert (told["status"], told["station"]["action"], told["station"]["status"]) == (
            "booked",
            "ReserveNow",
            "Accepted",
        )

        path = f"/api/v1/reservations/{made['reservation_id']}"
        assert api(site.port, "DELETE", path, site.operator)[0] == 200
        cancel = peer.wait_for(
            lambda e: e["event"] == "received" and e["action"] == "CancelReservation"
        )
        assert cancel["params"] == {"reservationId": sent["id"]}
        assert wait_until(lambda: not expected_in_plan(site, "E3"))

        # The station refuses the next one: the booking stands and says so.
        peer.answer("ReserveNow", {"status": "Occupied"})
        code, again = api(site.port, "POST", "/api/v1/reservations", site.operator, booking)
        assert code == 201, again
        assert wait_until(lambda: reservation(site, again["reservation_id"])["station"])
        refused = reservation(site, again["reservation_id"])
        assert (refused["status"], refused["station"]["status"]) == ("booked", "Occupied")
    finally:
        peer.close()
