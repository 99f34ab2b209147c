"""What a station's messages amount to: session events for the fleet, charging
profiles for the station, and clear errors that leave the ledger as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.ocpp import schemas
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station import StationEvse, StationLedger
from v2g.ocpp.wire import WireError, charging_profile, readings
from v2g.session import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    Setpoint,
)

NOW = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)
V201, V21 = OcppVersion.V201, OcppVersion.V21


def ledger() -> StationLedger:
    return StationLedger("CS-1", {1: StationEvse("E1", 1, 11000), 2: StationEvse("E2", 2, 7400)})


def event(kind: str, seq_no: int, transaction_id: str = "tx", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": "2030-07-01T18:00:00Z",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id},
        **extra,
    }
    schemas.check(V201, "TransactionEvent", "Request", payload)
    return payload


def meter(*samples: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"timestamp": "2030-07-01T18:00:05Z", "sampledValue": list(samples)}]


def test_a_started_transaction_is_a_session_of_a_unidirectional_vehicle() -> None:
    after, events = ledger().on_transaction_event(
        event("Started", 0, evse={"id": 2}, idToken={"idToken": "RFID-7", "type": "ISO14443"}),
        V201,
    )
    started, limits = events
    assert started == SessionStarted("E2", "CS-1/tx", NOW, "RFID-7", "ocpp2.0.1")
    assert isinstance(limits, LimitsReported)
    assert limits.ev_limits.max_charge_power_w == 7400
    assert limits.ev_limits.discharge is None
    assert after.transaction_at("E2") is not None


def test_meter_values_become_signed_power_and_soc() -> None:
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    samples = meter(
        {"value": 2.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
        {"value": 4000, "measurand": "Power.Active.Export"},
        {"value": 55, "measurand": "SoC"},
        {"value": 12345, "measurand": "Energy.Active.Import.Register"},
    )
    _, events = opened.on_transaction_event(event("Updated", 1, meterValue=samples), V21)
    (measured,) = events
    assert isinstance(measured, PowerMeasured)
    assert measured.power_w == pytest.approx(-1500)
    assert measured.soc_percent == 55


def test_per_phase_power_is_summed_and_a_soc_only_reading_keeps_the_last_power() -> None:
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    phases = meter(
        *[
            {"value": 2000, "measurand": "Power.Active.Import", "phase": p}
            for p in ("L1", "L2", "L3")
        ]
    )
    opened, (first,) = opened.on_transaction_event(event("Updated", 1, meterValue=phases), V21)
    soc_only = meter({"value": 61, "measurand": "SoC"})
    _, (second,) = opened.on_transaction_event(event("Updated", 2, meterValue=soc_only), V21)
    assert isinstance(first, PowerMeasured) and first.power_w == 6000
    assert isinstance(second, PowerMeasured) and (second.power_w, second.soc_percent) == (6000, 61)


def test_a_replayed_seq_no_or_an_ended_transaction_changes_nothing() -> None:
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    power = meter({"value": 3000, "measurand": "Power.Active.Import"})
    updated, events = opened.on_transaction_event(event("Updated", 1, meterValue=power), V21)
    assert len(events) == 1
    assert updated.on_transaction_event(event("Updated", 1, meterValue=power), V21) == (
        updated,
        [],
    )
    ended, events = updated.on_transaction_event(
        event(
            "Ended", 2, transactionInfo={"transactionId": "tx", "stoppedReason": "EVDisconnected"}
        ),
        V21,
    )
    assert events == [SessionEnded("E1", "CS-1/tx", NOW, "ocpp: EVDisconnected")]
    assert ended.transaction_at("E1") is None
    assert ended.on_transaction_event(event("Ended", 2), V21) == (ended, [])
    assert ended.on_transaction_event(event("Updated", 3, evse={"id": 1}), V21) == (ended, [])


@pytest.mark.parametrize(
    "payload",
    [
        event("Started", 0),  # no evse for an unknown transaction
        event("Started", 0, evse={"id": 9}),  # not a site charger
        event("Started", 0, timestamp="yesterday", evse={"id": 1}),
        event("Started", 0, timestamp="2030-07-01T18:00:00", evse={"id": 1}),  # no zone
        event("Started", 0, evse={"id": 1}, meterValue=meter({"value": 140, "measurand": "SoC"})),
        event(
            "Started",
            0,
            evse={"id": 1},
            meterValue=meter(
                {"value": 1, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "A"}}
            ),
        ),
    ],
)
def test_a_transaction_event_that_cannot_be_true_is_refused_and_changes_nothing(
    payload: dict[str, Any],
) -> None:
    before = ledger()
    with pytest.raises(WireError):
        before.on_transaction_event(payload, V21)
    assert before == ledger()


def test_a_second_transaction_at_a_busy_evse_is_refused() -> None:
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    with pytest.raises(WireError, match="already has an open transaction"):
        opened.on_transaction_event(event("Started", 0, "tx-2", evse={"id": 1}), V21)


def needs(**v2x: Any) -> dict[str, Any]:
    payload = {
        "evseId": 1,
        "chargingNeeds": {
            "requestedEnergyTransfer": "DC_BPT",
            "departureTime": "2030-07-02T06:00:00Z",
            "dcChargingParameters": {
                "evMaxCurrent": 200,
                "evMaxVoltage": 500,
                "evEnergyCapacity": 60000,
                "stateOfCharge": 40,
            },
            "v2xChargingParameters": v2x,
        },
    }
    schemas.check(V21, "NotifyEVChargingNeeds", "Request", payload)
    return payload


def test_v2x_charging_needs_give_the_vehicle_its_discharge_side() -> None:
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    reported, limits = opened.on_charging_needs(
        needs(maxChargePower=11000, maxDischargePower=9000, evTargetEnergyRequest=20000), NOW
    )
    assert isinstance(reported, NeedsReported) and isinstance(limits, LimitsReported)
    assert reported.needs.departure == datetime(2030, 7, 2, 6, tzinfo=UTC)
    assert reported.needs.battery_capacity_wh == 60000
    assert reported.needs.soc_percent == 40
    assert reported.needs.target_energy_wh == 20000
    assert limits.ev_limits.max_discharge_power_w == 9000


def test_charging_needs_without_a_transaction_or_with_impossible_values_are_refused() -> None:
    with pytest.raises(WireError, match="no open transaction"):
        ledger().on_charging_needs(needs(maxChargePower=11000), NOW)
    opened, _ = ledger().on_transaction_event(event("Started", 0, evse={"id": 1}), V21)
    with pytest.raises(WireError, match="min <= target <= max"):
        opened.on_charging_needs(needs(evMinEnergyRequest=5000, evTargetEnergyRequest=1000), NOW)
    late = needs(maxChargePower=11000)
    late["chargingNeeds"]["departureTime"] = "2030-07-01T17:00:00Z"
    with pytest.raises(WireError, match="departure"):
        opened.on_charging_needs(late, NOW)


powers = st.floats(-50_000, 50_000, allow_nan=False)
lifetimes = st.integers(1, 86_400)


@given(powers, lifetimes)
def test_a_201_profile_never_asks_for_discharge_and_meets_the_official_schema(
    power_w: float, lifetime_s: int
) -> None:
    setpoint = Setpoint.from_source(power_w, NOW + timedelta(seconds=lifetime_s), "test")
    payload = charging_profile(V201, 1, "tx", 7, setpoint, NOW)
    schemas.check(V201, "SetChargingProfile", "Request", payload)
    (period,) = payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]
    assert period["limit"] >= 0
    assert period["limit"] == pytest.approx(max(0.0, power_w), abs=0.051)


@given(powers, lifetimes)
def test_a_21_profile_carries_the_signed_setpoint_until_it_expires(
    power_w: float, lifetime_s: int
) -> None:
    setpoint = Setpoint.from_source(power_w, NOW + timedelta(seconds=lifetime_s), "test")
    payload = charging_profile(V21, 2, "tx", 7, setpoint, NOW)
    schemas.check(V21, "SetChargingProfile", "Request", payload)
    profile = payload["chargingProfile"]
    (period,) = profile["chargingSchedule"][0]["chargingSchedulePeriod"]
    assert period["operationMode"] == "CentralSetpoint"
    assert period["setpoint"] == pytest.approx(power_w, abs=0.051)
    assert profile["chargingProfilePurpose"] == "TxProfile"
    assert profile["chargingSchedule"][0]["duration"] == lifetime_s
    assert datetime.fromisoformat(profile["validTo"]) == setpoint.valid_until


def test_readings_without_power_or_soc_are_skipped() -> None:
    assert readings(meter({"value": 1, "measurand": "Voltage"})) == []
