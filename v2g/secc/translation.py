"""The one place where ISO 15118 wire data meets domain types.

DIN SPEC 70121, ISO 15118-2 and ISO 15118-20 differ in how they spell numbers
(PhysicalValue with multiplier, RationalNumber with exponent), in which side of a
bidirectional transfer they can express, and in which needs a vehicle reports. The
domain is version-free; every difference is handled here. Numbers coming from the
EV are validated on the way in: data that cannot be physically right raises
InvalidSessionData, and the controller answers safely instead of trusting it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from typing import Protocol as TypingProtocol

from iso15118.secc.controller.ev_data import (
    EVACCLLimits,
    EVACCPDLimits,
    EVDataContext,
    EVDCCLLimits,
    EVDCCPDLimits,
    EVRatedLimits,
    EVSessionLimits,
)
from iso15118.shared.messages.enums import Protocol, ServiceV20
from iso15118.shared.messages.iso15118_20.common_types import RationalNumber

from v2g.session import ChargeNeeds, DischargeLimits, InvalidSessionData, TransferLimits


class _Decimal(TypingProtocol):
    def get_decimal_value(self) -> float: ...


def to_rational(value: float) -> RationalNumber:
    """A finite float as an ISO 15118-20 RationalNumber (int16 value, int8 exponent).

    The encoding truncates towards zero, so an encoded power never exceeds (in
    magnitude) the limit it came from; precision is five significant digits, or three
    below 1.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot encode {value} as a RationalNumber")
    rational: RationalNumber = RationalNumber.get_rational_repr(value)
    return rational


def from_wire(number: _Decimal | None) -> float | None:
    """A PhysicalValue (DIN/-2) or RationalNumber (-20) as a float; None stays None."""
    return None if number is None else float(number.get_decimal_value())


# -- protocol names ---------------------------------------------------------------

_SERVICE_SUFFIX = {
    ServiceV20.AC: "ac",
    ServiceV20.DC: "dc",
    ServiceV20.AC_BPT: "ac-bpt",
    ServiceV20.DC_BPT: "dc-bpt",
}


def protocol_label(
    protocol: Protocol | None, service: ServiceV20 | None, charging_type_is_ac: bool | None
) -> str:
    """The product's name for a negotiated session, as ``v2g loopback`` spells it."""
    if protocol == Protocol.DIN_SPEC_70121:
        return "din-dc"
    if protocol == Protocol.ISO_15118_2:
        if charging_type_is_ac is None:
            return "iso2"
        return "iso2-ac" if charging_type_is_ac else "iso2-dc"
    if protocol is not None and protocol.name.startswith("ISO_15118_20"):
        if service in _SERVICE_SUFFIX:
            return f"iso20-{_SERVICE_SUFFIX[service]}"
        return "iso20-ac" if protocol == Protocol.ISO_15118_20_AC else "iso20-dc"
    return "unknown"


def is_bidirectional(service: ServiceV20 | None) -> bool:
    return service in (ServiceV20.AC_BPT, ServiceV20.DC_BPT)


# -- EV data -----------------------------------------------------------------------


def fresh_ev_data_context() -> EVDataContext:
    """An EVDataContext with limit objects of its own.

    iso15118 0.31.2 declares mutable default arguments (``EVRatedLimits()``,
    ``EVSessionLimits()``), so every context built with defaults shares the same
    limit objects: one EVSE's EV data would leak into another's.
    """
    return EVDataContext(
        rated_limits=EVRatedLimits(ac_limits=EVACCPDLimits(), dc_limits=EVDCCPDLimits()),
        session_limits=EVSessionLimits(ac_limits=EVACCLLimits(), dc_limits=EVDCCLLimits()),
    )


def _optional_percent(value: float | None) -> float | None:
    return None if value is None else float(value)


def ev_needs(context: EVDataContext, now: datetime) -> ChargeNeeds:
    """The EV's needs as reported so far. ``departure_time`` on the wire is in seconds
    from now (-2 DepartureTime, -20 DepartureTime; 0 = not set); the domain holds an
    aware time."""
    departure_s = context.departure_time
    if departure_s is not None and (not math.isfinite(departure_s) or departure_s < 0):
        raise InvalidSessionData(f"departure time lies in the past ({departure_s} s from now)")
    if departure_s == 0:
        # A vehicle that is charging does not leave 0 s from now: -2 EVs (the iso15118
        # package's among them) send DepartureTime 0 for "not set". Read as unstated,
        # so the site's default dwell applies instead of an empty band.
        departure_s = None
    return ChargeNeeds(
        reported_at=now,
        departure=None if departure_s is None else now + timedelta(seconds=departure_s),
        soc_percent=_optional_percent(context.present_soc),
        min_soc_percent=_optional_percent(context.min_soc),
        target_soc_percent=_optional_percent(context.target_soc),
        max_soc_percent=_optional_percent(context.max_soc),
        battery_capacity_wh=context.total_battery_capacity,
        min_energy_wh=context.min_energy_request,
        target_energy_wh=context.target_energy_request,
        max_energy_wh=context.max_energy_request,
        min_v2x_energy_wh=context.min_v2x_energy_request,
        max_v2x_energy_wh=context.max_v2x_energy_request,
    )


@dataclass(frozen=True, slots=True)
class AcGrid:
    """How the EVSE's AC supply turns per-phase current into power."""

    nominal_voltage_v: float
    phases: int

    def power_w(self, current_a: float) -> float:
        return current_a * self.nominal_voltage_v * self.phases

    def current_a(self, power_w: float) -> float:
        return power_w / (self.nominal_voltage_v * self.phases)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _reported_power(session_w: float | None, rated_w: float | None) -> float | None:
    """The EV's maximum charge power, if it reported one. iso15118 initialises these
    fields to 0.0, and DIN/-2 EVs that give only currents leave them there, so a zero
    counts as "not reported" (power then follows from current and voltage)."""
    return _first(session_w or None, rated_w or None)


def ev_limits(
    context: EVDataContext, current: str, bidirectional: bool, ac_grid: AcGrid
) -> TransferLimits:
    """The EV's transfer limits, from the charge-loop (session) limits where the EV
    sent them, else from ChargeParameterDiscovery (rated) limits.

    DIN and -2 report DC limits as voltage and current and AC limits as per-phase
    current only; power follows from them. Discharge appears only in BPT sessions.
    """
    # iso15118 types these Optional, but always sets them (see fresh_ev_data_context).
    rated: Any = context.rated_limits
    session: Any = context.session_limits
    if current == "ac":
        rated_ac, session_ac = rated.ac_limits, session.ac_limits
        max_charge = _reported_power(session_ac.max_charge_power, rated_ac.max_charge_power)
        if max_charge is None and rated_ac.max_charge_current is not None:
            max_charge = ac_grid.power_w(rated_ac.max_charge_current)
        min_charge = _first(session_ac.min_charge_power, rated_ac.min_charge_power) or 0.0
        max_discharge = _first(session_ac.max_discharge_power, rated_ac.max_discharge_power)
        min_discharge = _first(session_ac.min_discharge_power, rated_ac.min_discharge_power)
        max_voltage, min_voltage, max_current = (
            rated_ac.max_voltage,
            None,
            (rated_ac.max_charge_current),
        )
    else:
        rated_dc, session_dc = rated.dc_limits, session.dc_limits
        max_voltage = _first(session_dc.max_voltage, rated_dc.max_voltage)
        min_voltage = _first(session_dc.min_voltage, rated_dc.min_voltage)
        max_current = _first(session_dc.max_charge_current, rated_dc.max_charge_current)
        max_charge = _reported_power(session_dc.max_charge_power, rated_dc.max_charge_power)
        if max_charge is None and max_current is not None and max_voltage is not None:
            max_charge = max_current * max_voltage
        min_charge = _first(session_dc.min_charge_power, rated_dc.min_charge_power) or 0.0
        max_discharge = _first(session_dc.max_discharge_power, rated_dc.max_discharge_power)
        min_discharge = _first(session_dc.min_discharge_power, rated_dc.min_discharge_power)
    if max_charge is None:
        raise InvalidSessionData("the EV reported no charge power or current limit")
    discharge = None
    if bidirectional and max_discharge is not None:
        discharge = DischargeLimits(
            max_power_w=abs(max_discharge), min_power_w=abs(min_discharge or 0.0)
        )
        if max_discharge < 0 or (min_discharge or 0.0) < 0:
            # -20 carries discharge limits as magnitudes; a negative one is a sign error
            # on the EV's side that we refuse to guess about.
            raise InvalidSessionData(
                f"discharge limits must be magnitudes >= 0 W, got max {max_discharge} "
                f"min {min_discharge}"
            )
    return TransferLimits(
        max_charge_power_w=max_charge,
        min_charge_power_w=min(min_charge, max_charge),
        discharge=discharge,
        max_voltage_v=max_voltage,
        min_voltage_v=min_voltage,
        max_current_a=max_current,
    )


# -- EVSE answers ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DcPowerWindow:
    """The -20 DC charge-loop limits that make the EV follow one signed power.

    In -20 DC the EV regulates current within the EVSE's limits, so a target is
    expressed by narrowing the window onto it: charging at P closes the discharge
    side and caps charging at P; discharging at P closes the charge side and sets
    both discharge limits to |P|. All values are magnitudes in W.
    """

    max_charge_power_w: float
    min_charge_power_w: float
    max_discharge_power_w: float
    min_discharge_power_w: float

    @classmethod
    def around(cls, power_w: float) -> DcPowerWindow:
        if power_w >= 0:
            return cls(power_w, 0.0, 0.0, 0.0)
        return cls(0.0, 0.0, -power_w, -power_w)

    @property
    def target_power_w(self) -> float:
        if self.max_charge_power_w > 0:
            return self.max_charge_power_w
        return 0.0 - self.max_discharge_power_w


def _wire_number(node: Any) -> float | None:
    """A number in the iso15118 JSON shape: RationalNumber or PhysicalValue dict."""
    if not isinstance(node, dict):
        return None
    if "Exponent" in node:
        return float(node["Value"]) * 10.0 ** int(node["Exponent"])
    if "Multiplier" in node:
        return float(node["Value"]) * 10.0 ** int(node["Multiplier"])
    return None


def target_power_w(charge_loop_res: dict[str, Any], ac_grid: AcGrid | None = None) -> float | None:
    """The power a charge-loop response told the EV to follow, in W (+ = charging).

    ``charge_loop_res`` is the response body in the iso15118 JSON shape. -20 AC
    carries EVSETargetActivePower; -20 DC the window of DcPowerWindow; DIN and -2 DC
    (CurrentDemandRes) carry a maximum power and -2 AC (ChargingStatusRes) a maximum
    per-phase current (power via ``ac_grid``), which is what the EV follows.
    """
    for mode in charge_loop_res.values():
        if not isinstance(mode, dict):
            continue
        if "EVSETargetActivePower" in mode:
            return _wire_number(mode["EVSETargetActivePower"])
        if "EVSEMaximumChargePower" in mode:
            window = DcPowerWindow(
                _wire_number(mode.get("EVSEMaximumChargePower")) or 0.0,
                _wire_number(mode.get("EVSEMinimumChargePower")) or 0.0,
                _wire_number(mode.get("EVSEMaximumDischargePower")) or 0.0,
                _wire_number(mode.get("EVSEMinimumDischargePower")) or 0.0,
            )
            return window.target_power_w
    if "EVSEMaximumPowerLimit" in charge_loop_res:
        return _wire_number(charge_loop_res["EVSEMaximumPowerLimit"])
    max_current_a = _wire_number(charge_loop_res.get("EVSEMaxCurrent"))
    if max_current_a is not None and ac_grid is not None:
        return ac_grid.power_w(max_current_a)
    return None
