"""Translation between OCPP payloads (camelCase, at the wire only) and domain types.

Every version difference between 2.0.1 and 2.1 lives here. Payloads reaching these
functions have passed the official schema already; what the schema cannot say (a
date that is not a date, needs that contradict each other) raises ``WireError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from v2g.clock import require_aware
from v2g.limits import Limit
from v2g.ocpp.frames import OcppVersion
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    InvalidSessionData,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    Setpoint,
    TransferLimits,
)


class WireError(ValueError):
    """A payload that passed the schema but cannot be true."""


@dataclass(frozen=True, slots=True)
class Reading:
    """What one meter value says: signed power at the EVSE in W (+ = charging) and the
    state of charge in percent, each None when not sampled."""

    at: datetime
    power_w: float | None
    soc_percent: float | None


@dataclass(frozen=True, slots=True)
class ReportedNeeds:
    """A NotifyEVChargingNeeds in domain terms: the needs, and the EV's transfer limits
    when it reported any (V2X parameters in 2.1, DC maximum power)."""

    needs: ChargeNeeds
    ev_limits: TransferLimits | None


def timestamp(value: str, where: str) -> datetime:
    """An aware UTC datetime from an OCPP dateTime (RFC 3339)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise WireError(f"{where}: not a date and time: {value!r}") from error
    try:
        require_aware(parsed, where)
    except ValueError as error:
        raise WireError(f"{where}: {value!r} has no time zone") from error
    return parsed


def wire_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


#: Unit prefixes OCPP's UnitOfMeasure uses for power (OCPP 2.0.1 part 2 §2.52).
_POWER_UNITS = {"W": 1.0, "kW": 1e3}


def _sampled_w(sample: dict[str, Any]) -> float:
    unit = sample.get("unitOfMeasure", {})
    scale = _POWER_UNITS.get(unit.get("unit", "W"))
    if scale is None:
        raise WireError(f"power in unit {unit.get('unit')!r}: expected W or kW")
    value = float(sample["value"]) * scale * 10.0 ** int(unit.get("multiplier", 0))
    if not math.isfinite(value):
        raise WireError(f"power is not finite: {sample['value']!r}")
    return value


def _total(samples: list[dict[str, Any]], measurand: str) -> float | None:
    """The all-phase value of ``measurand``: its phase-less sample, else the sum of
    its L1/L2/L3 samples."""
    mine = [s for s in samples if s.get("measurand") == measurand]
    whole = [s for s in mine if "phase" not in s]
    if whole:
        return _sampled_w(whole[0])
    phases = [s for s in mine if s.get("phase") in ("L1", "L2", "L3")]
    return sum(_sampled_w(s) for s in phases) if phases else None


def readings(meter_values: list[dict[str, Any]]) -> list[Reading]:
    """Power and SoC from a list of MeterValueType. Import counts as charging, export
    as discharge (OCPP measurands Power.Active.Import / .Export)."""
    found = []
    for i, meter_value in enumerate(meter_values):
        samples = meter_value["sampledValue"]
        imported = _total(samples, "Power.Active.Import")
        exported = _total(samples, "Power.Active.Export")
        power = (
            None
            if imported is None and exported is None
            else (imported or 0.0) - abs(exported or 0.0)
        )
        soc = next((float(s["value"]) for s in samples if s.get("measurand") == "SoC"), None)
        if soc is not None and not 0 <= soc <= 100:
            raise WireError(f"meterValue[{i}] SoC must lie within 0..100 %, got {soc}")
        if power is not None or soc is not None:
            at = timestamp(meter_value["timestamp"], f"meterValue[{i}].timestamp")
            found.append(Reading(at, power, soc))
    return found


def charging_needs(payload: dict[str, Any], now: datetime) -> ReportedNeeds:
    """The needs in a NotifyEVChargingNeedsRequest (2.0.1 or 2.1), as of ``now``."""
    needs = payload["chargingNeeds"]
    ac = needs.get("acChargingParameters", {})
    dc = needs.get("dcChargingParameters", {})
    v2x = needs.get("v2xChargingParameters", {})
    departure = needs.get("departureTime")
    energy = v2x.get("evTargetEnergyRequest", dc.get("energyAmount", ac.get("energyAmount")))
    try:
        charge_needs = ChargeNeeds(
            reported_at=now,
            departure=None if departure is None else timestamp(departure, "departureTime"),
            soc_percent=_number(dc.get("stateOfCharge")),
            target_soc_percent=_number(v2x.get("targetSoC")),
            max_soc_percent=_number(dc.get("fullSoC")),
            battery_capacity_wh=_number(dc.get("evEnergyCapacity")),
            min_energy_wh=_number(v2x.get("evMinEnergyRequest")),
            target_energy_wh=_number(energy),
            max_energy_wh=_number(v2x.get("evMaxEnergyRequest")),
        )
        limits = _transfer_limits(v2x, dc)
    except InvalidSessionData as error:
        raise WireError(str(error)) from error
    return ReportedNeeds(charge_needs, limits)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _transfer_limits(v2x: dict[str, Any], dc: dict[str, Any]) -> TransferLimits | None:
    """The EV's limits: V2X parameters (2.1; discharge magnitudes >= 0, OCPP 2.1
    V2XChargingParametersType), else a DC maximum power, else None."""
    if "maxChargePower" in v2x:
        discharge = None
        if v2x.get("maxDischargePower", 0) > 0:
            discharge = DischargeLimits(
                float(v2x["maxDischargePower"]), float(v2x.get("minDischargePower", 0.0))
            )
        return TransferLimits(
            max_charge_power_w=float(v2x["maxChargePower"]),
            min_charge_power_w=float(v2x.get("minChargePower", 0.0)),
            discharge=discharge,
        )
    if "evMaxPower" in dc:
        return TransferLimits(max_charge_power_w=float(dc["evMaxPower"]))
    return None


def charging_profile(
    version: OcppVersion,
    ocpp_evse: int,
    transaction_id: str,
    profile_id: int,
    setpoint: Setpoint,
    now: datetime,
) -> dict[str, Any]:
    """A SetChargingProfileRequest that runs ``setpoint`` until it expires.

    TxProfile for the running transaction, in W, from ``now`` to ``valid_until``; after
    it the station's own fallback applies. 2.1 carries the signed setpoint
    (operationMode CentralSetpoint, OCPP 2.1 part 2 §K.1); 2.0.1 has no discharge, so
    it gets a charge limit of max(0, setpoint) and never anything negative.
    """
    duration_s = max(1, math.ceil((setpoint.valid_until - now).total_seconds()))
    period: dict[str, Any] = {"startPeriod": 0}
    if version is OcppVersion.V21:
        period |= {"operationMode": "CentralSetpoint", "setpoint": round(setpoint.power_w, 1)}
    else:
        period["limit"] = round(max(0.0, setpoint.power_w), 1)
    return {
        "evseId": ocpp_evse,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": transaction_id,
            "validTo": wire_time(now + timedelta(seconds=duration_s)),
            "chargingSchedule": [
                {
                    "id": profile_id,
                    "chargingRateUnit": "W",
                    "startSchedule": wire_time(now),
                    "duration": duration_s,
                    "chargingSchedulePeriod": [period],
                }
            ],
        },
    }


# -- the charging-station side: session events out, charging profiles in ------------


def transaction_event(
    event: SessionStarted | PowerMeasured | SessionEnded,
    seq_no: int,
    ocpp_evse: int,
) -> dict[str, Any]:
    """The TransactionEventRequest telling the CSMS about ``event`` (the session id is
    the transactionId; power as Power.Active.Import, or .Export when discharging)."""
    payload: dict[str, Any] = {
        "timestamp": wire_time(event.at),
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": event.session_id[:36]},
        "evse": {"id": ocpp_evse, "connectorId": 1},
    }
    if isinstance(event, SessionStarted):
        payload |= {"eventType": "Started", "triggerReason": "CablePluggedIn"}
        if event.ev_id:
            payload["idToken"] = {"idToken": event.ev_id[:36], "type": "Central"}
    elif isinstance(event, SessionEnded):
        payload |= {"eventType": "Ended", "triggerReason": "EVDeparted"}
        payload["transactionInfo"]["stoppedReason"] = "EVDisconnected"
    else:
        measurand = "Power.Active.Import" if event.power_w >= 0 else "Power.Active.Export"
        samples: list[dict[str, Any]] = [
            {"value": round(abs(event.power_w), 1), "measurand": measurand}
        ]
        if event.soc_percent is not None:
            samples.append(
                {
                    "value": round(event.soc_percent, 1),
                    "measurand": "SoC",
                    "unitOfMeasure": {"unit": "Percent"},
                }
            )
        payload |= {"eventType": "Updated", "triggerReason": "MeterValuePeriodic"}
        payload["meterValue"] = [{"timestamp": wire_time(event.at), "sampledValue": samples}]
    return payload


def needs_request(
    version: OcppVersion,
    ocpp_evse: int,
    protocol: str,
    needs: ChargeNeeds,
    ev_limits: TransferLimits | None,
) -> dict[str, Any]:
    """A NotifyEVChargingNeedsRequest for a session's needs and the EV's limits. The
    V2X parameters (discharge) exist in 2.1 only; a 2.0.1 CSMS hears charge needs."""
    bidirectional = version is OcppVersion.V21 and ev_limits is not None and ev_limits.discharge
    dc = protocol.endswith(("-dc", "-dc-bpt")) or protocol.startswith("din")
    transfer = (
        ("DC" if dc else "AC_three_phase") if not bidirectional else ("DC_BPT" if dc else "AC_BPT")
    )
    charging: dict[str, Any] = {"requestedEnergyTransfer": transfer}
    if needs.departure is not None:
        charging["departureTime"] = wire_time(needs.departure)
    if dc:
        params: dict[str, Any] = {"evMaxCurrent": 0, "evMaxVoltage": 0}
        if ev_limits is not None:
            params["evMaxCurrent"] = int(ev_limits.max_current_a or 0)
            params["evMaxVoltage"] = int(ev_limits.max_voltage_v or 0)
            params["evMaxPower"] = round(ev_limits.max_charge_power_w)
        for key, value in (
            ("energyAmount", needs.target_energy_wh),
            ("evEnergyCapacity", needs.battery_capacity_wh),
            ("stateOfCharge", needs.soc_percent),
            ("fullSoC", needs.max_soc_percent),
        ):
            if value is not None:
                # 2.0.1 DCChargingParametersType has integers only (W, Wh, %).
                params[key] = round(value)
        charging["dcChargingParameters"] = params
    if version is OcppVersion.V21 and ev_limits is not None:
        v2x: dict[str, Any] = {
            "maxChargePower": ev_limits.max_charge_power_w,
            "minChargePower": ev_limits.min_charge_power_w,
        }
        if ev_limits.discharge is not None:
            v2x["maxDischargePower"] = ev_limits.discharge.max_power_w
            v2x["minDischargePower"] = ev_limits.discharge.min_power_w
        for key, value in (
            ("evMinEnergyRequest", needs.min_energy_wh),
            ("evTargetEnergyRequest", needs.target_energy_wh),
            ("evMaxEnergyRequest", needs.max_energy_wh),
        ):
            if value is not None:
                v2x[key] = value
        charging["v2xChargingParameters"] = v2x
    return {"evseId": ocpp_evse, "chargingNeeds": charging}


def setpoint_of(payload: dict[str, Any], version: OcppVersion, now: datetime) -> Setpoint:
    """The setpoint a SetChargingProfileRequest asks for now: the period running at
    ``now``, until the profile or that period ends. 2.1 ``setpoint`` is signed; a
    ``limit`` (2.0.1, or 2.1 without setpoint) is a charge limit, never discharge."""
    profile = payload["chargingProfile"]
    if profile["chargingProfilePurpose"] != "TxProfile":
        raise WireError(f"only TxProfile is taken, got {profile['chargingProfilePurpose']}")
    schedule = profile["chargingSchedule"][0]
    if schedule["chargingRateUnit"] != "W":
        raise WireError("only chargingRateUnit W is taken (no hidden voltage for A)")
    start = timestamp(schedule.get("startSchedule", wire_time(now)), "startSchedule")
    elapsed_s = (now - start).total_seconds()
    periods = sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    running = [p for p in periods if p["startPeriod"] <= elapsed_s] or periods[:1]
    period = running[-1]
    later = [p["startPeriod"] for p in periods if p["startPeriod"] > period["startPeriod"]]
    ends = [start + timedelta(seconds=s) for s in later[:1]]
    if "duration" in schedule:
        ends.append(start + timedelta(seconds=schedule["duration"]))
    if "validTo" in profile:
        ends.append(timestamp(profile["validTo"], "validTo"))
    if not ends:
        raise WireError("a profile without duration or validTo would never expire")
    if version is OcppVersion.V21 and "setpoint" in period:
        power_w = float(period["setpoint"])
    elif "limit" in period:
        power_w = max(0.0, float(period["limit"]))
    else:
        raise WireError("the running period has neither setpoint nor limit")
    source = f"csms profile {profile['id']}"
    return Setpoint(power_w, min(ends), Limit(power_w, source))
