"""The charging-station side of the wire: session facts out as valid OCPP requests,
charging profiles in as setpoints (never a discharge a 2.0.1 profile did not ask for)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.ocpp import schemas
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.wire import (
    WireError,
    charging_profile,
    needs_request,
    setpoint_of,
    transaction_event,
)
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    Setpoint,
    TransferLimits,
)

NOW = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)
V201, V21 = OcppVersion.V201, OcppVersion.V21
versions = st.sampled_from([V201, V21])
protocols = st.sampled_from(["din-dc", "iso2-ac", "iso2-dc", "iso20-ac-bpt", "iso20-dc-bpt"])
maybe = st.one_of(st.none(), st.floats(0, 100))


@given(versions, st.floats(-22000, 22000, allow_nan=False), maybe)
def test_every_session_event_becomes_a_valid_transaction_event(
    version: OcppVersion, power_w: float, soc: float | None
) -> None:
    events = [
        SessionStarted("E1", "s-1", NOW, "EV-1", "iso20-dc-bpt"),
        PowerMeasured("E1", "s-1", NOW, power_w, soc),
        SessionEnded("E1", "s-1", NOW, "unplugged"),
    ]
    for seq_no, event in enumerate(events):
        payload = transaction_event(event, seq_no, 3)
        schemas.check(version, "TransactionEvent", "Request", payload)
        assert payload["seqNo"] == seq_no and payload["evse"]["id"] == 3


@given(
    versions,
    protocols,
    st.floats(0, 50000),
    st.one_of(st.none(), st.floats(0, 50000)),
    maybe,
    st.booleans(),
)
def test_needs_become_a_valid_request_and_discharge_is_told_in_21_only(
    version: OcppVersion,
    protocol: str,
    max_charge_w: float,
    discharge_w: float | None,
    soc: float | None,
    departs: bool,
) -> None:
    needs = ChargeNeeds(
        NOW,
        departure=NOW + timedelta(hours=5) if departs else None,
        soc_percent=soc,
        battery_capacity_wh=60000,
        target_energy_wh=10000,
    )
    discharge = None if discharge_w is None else DischargeLimits(discharge_w)
    limits = TransferLimits(max_charge_w, discharge=discharge)
    payload = needs_request(version, 1, protocol, needs, limits)
    schemas.check(version, "NotifyEVChargingNeeds", "Request", payload)
    if version is V201:
        assert "v2xChargingParameters" not in payload["chargingNeeds"]
        assert "BPT" not in payload["chargingNeeds"]["requestedEnergyTransfer"]


@given(versions, st.floats(-22000, 22000, allow_nan=False), st.integers(1, 7200))
def test_a_profile_we_send_is_read_back_as_the_same_setpoint(
    version: OcppVersion, power_w: float, lifetime_s: int
) -> None:
    setpoint = Setpoint.from_source(power_w, NOW + timedelta(seconds=lifetime_s), "plan")
    payload = charging_profile(version, 1, "tx", 4, setpoint, NOW)
    read = setpoint_of(payload, version, NOW)
    expected = power_w if version is V21 else max(0.0, power_w)
    assert read.power_w == pytest.approx(expected, abs=0.051)
    assert read.power_w >= 0 or version is V21
    assert read.valid_until == setpoint.valid_until


def two_periods() -> dict[str, Any]:
    setpoint = Setpoint.from_source(-2000, NOW + timedelta(hours=1), "plan")
    payload = charging_profile(V21, 1, "tx", 4, setpoint, NOW)
    schedule = payload["chargingProfile"]["chargingSchedule"][0]
    schedule["chargingSchedulePeriod"].append(
        {"startPeriod": 600, "operationMode": "CentralSetpoint", "setpoint": 3000}
    )
    return payload


def test_the_period_running_now_is_taken_until_the_next_one_starts() -> None:
    first = setpoint_of(two_periods(), V21, NOW + timedelta(seconds=10))
    assert (first.power_w, first.valid_until) == (-2000, NOW + timedelta(seconds=600))
    second = setpoint_of(two_periods(), V21, NOW + timedelta(seconds=700))
    assert (second.power_w, second.valid_until) == (3000, NOW + timedelta(hours=1))


def mutated(change: str) -> dict[str, Any]:
    payload = copy.deepcopy(two_periods())
    profile = payload["chargingProfile"]
    schedule = profile["chargingSchedule"][0]
    if change == "purpose":
        profile["chargingProfilePurpose"] = "TxDefaultProfile"
    elif change == "amps":
        schedule["chargingRateUnit"] = "A"
    elif change == "endless":
        del profile["validTo"]
        del schedule["duration"]
        schedule["chargingSchedulePeriod"] = schedule["chargingSchedulePeriod"][:1]
    elif change == "empty period":
        schedule["chargingSchedulePeriod"] = [{"startPeriod": 0}]
    return payload


@pytest.mark.parametrize("change", ["purpose", "amps", "endless", "empty period"])
def test_a_profile_the_station_cannot_follow_is_refused(change: str) -> None:
    with pytest.raises(WireError):
        setpoint_of(mutated(change), V21, NOW)


def test_a_21_limit_without_setpoint_is_a_charge_limit() -> None:
    payload = two_periods()
    payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"] = [
        {"startPeriod": 0, "limit": -5000}
    ]
    assert setpoint_of(payload, V21, NOW).power_w == 0
