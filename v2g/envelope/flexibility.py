"""One vehicle's flexibility over the horizon: power bounds per slot and an energy
corridor to departure. See README.md in this folder for the math."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from v2g.envelope.horizon import Horizon
from v2g.fleet import SITE_DEFAULT, FleetMember, corridors

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Battery round trip split into charge and discharge efficiency (0 < eta <= 1):
    charging p W for an hour stores ``charge * p`` Wh; delivering p W for an hour takes
    ``p / discharge`` Wh out of the battery."""

    charge: float = 0.95
    discharge: float = 0.95

    def __post_init__(self) -> None:
        for name in ("charge", "discharge"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"{name} efficiency must lie within (0, 1], got {value}")

    def stored_wh(self, power_w: float, hours: float) -> float:
        """Energy added to the battery (Wh, negative when discharging) by ``power_w``."""
        return power_w * hours * (self.charge if power_w >= 0 else 1.0 / self.discharge)


@dataclass(frozen=True)
class Flexibility:
    """What one vehicle can do in each slot of a horizon.

    ``laxity_s``: time to departure minus the time needed to reach the target at full
    power; ``dwell_s``: time to departure.
    ``lower_w``/``upper_w``: signed power bounds per slot in W (0 after departure; the
    departure slot scaled by the share of it the vehicle is still there).
    ``floor_wh``/``ceiling_wh``: stored energy allowed at the *end* of each slot. The
    floor is the least energy from which the target is still reachable by departure at
    full power, never below the reserve (or below the energy now, if that is lower),
    and never above what is reachable from now: so the corridor is feasible for the
    vehicle alone by construction. The planner takes the floor as a departure need
    (elastic: missing it costs more than any DR or price gain), and ``reserve_wh`` as
    the hard floor (the owner's reserve, the EV's V2X minimum, or the energy now if
    that is lower): no plan discharges below it. ``energy_wh`` is absolute where SoC
    and capacity are known, else 0 (the corridor then counts from now).
    ``needs_source`` names where the corridor came from (``ev energy requests``,
    ``soc and capacity``, ``site default``); ``guessed`` names the vehicle and what
    was guessed about it and why (None: everything was stated).
    """

    evse_id: str
    bus: int
    energy_wh: float
    lower_w: FloatArray = field(repr=False)
    upper_w: FloatArray = field(repr=False)
    floor_wh: FloatArray = field(repr=False)
    ceiling_wh: FloatArray = field(repr=False)
    lower_source: str
    upper_source: str
    floor_source: str
    efficiency: Efficiency
    laxity_s: float = float("inf")
    dwell_s: float = float("inf")
    priority: int = 0
    needs_source: str = "soc and capacity"
    guessed: str | None = None
    #: Hard floor in Wh (absolute, like ``energy_wh``): never discharged below it.
    reserve_wh: float = float("-inf")

    def slot0_range_w(self, slot_h: float) -> tuple[float, float]:
        """The power range in slot 0 that keeps the vehicle inside its corridor at the
        end of the slot (within its power bounds; the bounds win if they conflict)."""
        lower, upper = float(self.lower_w[0]), float(self.upper_w[0])
        if slot_h <= 0:
            return lower, upper
        eff = self.efficiency
        need = float(self.floor_wh[0]) - self.energy_wh  # energy to add by the end of slot 0
        room = float(self.ceiling_wh[0]) - self.energy_wh
        must = need / slot_h / eff.charge if need >= 0 else need / slot_h * eff.discharge
        most = room / slot_h / eff.charge if room >= 0 else room / slot_h * eff.discharge
        low = min(max(lower, must), upper)
        return low, max(low, min(upper, most))


def flexibility(
    member: FleetMember, horizon: Horizon, efficiency: Efficiency = Efficiency()
) -> Flexibility:
    """The flexibility of ``member`` over ``horizon`` (pure; ``horizon.start`` is now)."""
    return flexibilities([member], horizon, efficiency)[0]


def _floor_source(member: FleetMember, source: str, departure: datetime, need_wh: float) -> str:
    """Why the floor is where it is, naming the vehicle and where its needs came from."""
    evse = member.evse_id
    if member.policy.accept_shortfall and source != SITE_DEFAULT:
        return f"minimum of {evse} (owner accepts shortfall; {source})"
    # hour:minute by hand: the same text as %H:%M, without strftime per vehicle.
    at = f"{departure.hour:02d}:{departure.minute:02d}"
    return f"departure {at} of {evse} needs {need_wh / 1000:.1f} kWh more ({source})"


@dataclass(frozen=True)
class FleetFlexibility:
    """Every vehicle's flexibility at once, one row per vehicle: the same numbers as
    each ``vehicles[i]`` (whose arrays are views of row i), for what the planner sums
    or compares over the whole fleet in one array operation instead of one per
    vehicle. ``lower_w``/``upper_w``/``floor_wh``/``ceiling_wh``: vehicles x slots;
    ``energy_wh``/``reserve_wh``: per vehicle (absolute Wh, as in ``Flexibility``)."""

    vehicles: list[Flexibility]
    lower_w: FloatArray = field(repr=False)
    upper_w: FloatArray = field(repr=False)
    floor_wh: FloatArray = field(repr=False)
    ceiling_wh: FloatArray = field(repr=False)
    energy_wh: FloatArray = field(repr=False)
    reserve_wh: FloatArray = field(repr=False)
    efficiency: Efficiency

    def slot0_ranges_w(self, slot_h: float) -> tuple[FloatArray, FloatArray]:
        """``Flexibility.slot0_range_w`` of every vehicle (lows, highs), with the same
        arithmetic step by step, so the numbers are the same to the last bit."""
        lower, upper = self.lower_w[:, 0].copy(), self.upper_w[:, 0].copy()
        if slot_h <= 0:
            return lower, upper
        eff = self.efficiency
        need = self.floor_wh[:, 0] - self.energy_wh
        room = self.ceiling_wh[:, 0] - self.energy_wh
        must = np.where(need >= 0, need / slot_h / eff.charge, need / slot_h * eff.discharge)
        most = np.where(room >= 0, room / slot_h / eff.charge, room / slot_h * eff.discharge)
        low = np.minimum(np.maximum(lower, must), upper)
        return low, np.maximum(low, np.minimum(upper, most))


def flexibilities(
    members: Sequence[FleetMember], horizon: Horizon, efficiency: Efficiency = Efficiency()
) -> list[Flexibility]:
    """The flexibility of every member (see ``fleet_flexibility``)."""
    return fleet_flexibility(members, horizon, efficiency).vehicles


def fleet_flexibility(
    members: Sequence[FleetMember], horizon: Horizon, efficiency: Efficiency = Efficiency()
) -> FleetFlexibility:
    """The flexibility of every member: each vehicle's corridor, then the slot math for
    all of them at once (one array operation per quantity, not one per vehicle)."""
    slots = horizon.slots
    if not members:
        empty = np.zeros((0, slots))
        none = np.zeros(0)
        return FleetFlexibility([], empty, empty, empty, empty, none, none, efficiency)
    offsets_s = horizon.offsets_s
    ends_s = offsets_s[1:]  # end of each slot, s from now
    durations_s = np.diff(offsets_s)  # slots may differ in length (see Horizon)
    found = corridors(members, horizon.start)
    limits = [
        _limits(m, allowed, source)
        for m, allowed, source in zip(
            members, found.discharge_allowed.tolist(), found.source, strict=True
        )
    ]
    column = np.array
    upper = column([b[2] for b in limits])
    lower = column([b[0] for b in limits])
    dwell_s = np.maximum(
        column([(departure - horizon.start).total_seconds() for departure in found.departure]),
        0.0,
    )
    # A vehicle plugged in already is there from 0 s; one expected later
    # (v2g.fleet.expected) from its arrival.
    since_s = column([(m.plugged_in_at - horizon.start).total_seconds() for m in members])
    arrival_s = np.clip(since_s, 0.0, dwell_s)[:, None]
    # Share of each slot a vehicle is plugged in (its arrival and departure slots are
    # partial; before and after them nothing: no band extends past a departure).
    present = np.clip(
        (np.minimum(dwell_s[:, None], ends_s) - np.maximum(arrival_s, offsets_s[:-1]))
        / durations_s,
        0.0,
        1.0,
    )
    until_s = np.clip(ends_s, arrival_s, dwell_s[:, None])  # connected up to each slot's end
    rate = (np.maximum(upper, 0.0) * efficiency.charge / 3600.0)[:, None]  # Wh per s
    # Relative to the energy on board now, or at arrival (see v2g/fleet/corridor.py).
    ceiling = np.minimum(found.high_wh[:, None], rate * (until_s - arrival_s))
    ceiling = np.maximum(ceiling, 0.0)
    low = found.low_wh[:, None]
    need = found.need_wh[:, None]
    must_have = need - rate * (dwell_s[:, None] - until_s)
    floor = np.minimum(np.maximum(must_have, low), ceiling)
    charge_s = np.divide(need[:, 0], rate[:, 0], out=np.zeros(len(members)), where=rate[:, 0] > 0)
    laxity_s = dwell_s - arrival_s[:, 0] - np.maximum(charge_s, 0.0)
    lower_w, upper_w = lower[:, None] * present, upper[:, None] * present
    energy = found.energy_wh
    floor_wh, ceiling_wh = floor + energy[:, None], ceiling + energy[:, None]
    reserve_wh = low[:, 0] + energy
    needs = need[:, 0].tolist()
    vehicles = [
        Flexibility(
            evse_id=member.evse_id,
            bus=member.charger.bus,
            energy_wh=float(energy[row]),
            lower_w=lower_w[row],
            upper_w=upper_w[row],
            floor_wh=floor_wh[row],
            ceiling_wh=ceiling_wh[row],
            lower_source=limits[row][1],
            upper_source=limits[row][3],
            floor_source=_floor_source(
                member, found.source[row], found.departure[row], needs[row]
            ),
            efficiency=efficiency,
            laxity_s=float(laxity_s[row]),
            dwell_s=float(dwell_s[row]),
            priority=member.policy.priority,
            needs_source=found.source[row],
            guessed=None
            if found.guessed[row] is None
            else f"{member.evse_id}: {found.guessed[row]}",
            reserve_wh=float(reserve_wh[row]),
        )
        for row, member in enumerate(members)
    ]
    return FleetFlexibility(
        vehicles, lower_w, upper_w, floor_wh, ceiling_wh, energy, reserve_wh, efficiency
    )


def _named(member: FleetMember, guessed: str | None) -> str | None:
    return None if guessed is None else f"{member.evse_id}: {guessed}"


def _limits(member: FleetMember, discharge_allowed: bool, source: str) -> _Limits:
    """The member's power range as (lower W, its source, upper W, its source): its
    ``power_bounds()``, with no discharge where its needs were guessed (``source``
    names where its corridor came from). The same rules as ``FleetMember.power_bounds``
    and ``PowerBounds.intersect``, on plain numbers rather than five ``Limit`` objects
    per vehicle; a property test holds the two equal."""
    evse, charger, ev = member.evse_id, member.charger, member.ev_limits
    rated = f"charger {evse} rated"
    lower: tuple[float, str] = (0.0 - charger.max_discharge_power_w, rated)
    upper: tuple[float, str] = (charger.max_charge_power_w, rated)
    if ev is not None:
        ev_lower = (0.0 - ev.max_discharge_power_w, f"EV at {evse} max discharge")
        ev_upper = (ev.max_charge_power_w, f"EV at {evse} max charge")
        tight_lower = lower if lower[0] >= ev_lower[0] else ev_lower
        tight_upper = upper if upper[0] <= ev_upper[0] else ev_upper
        if tight_lower[0] > tight_upper[0]:  # no overlap: the EV's end nearest wins
            tight_lower = tight_upper = ev_lower if ev_lower[0] > upper[0] else ev_upper
        lower, upper = tight_lower, tight_upper
    if lower[0] < 0 and not member.policy.v2g_allowed:
        lower = (0.0, f"owner of {evse}: no V2G")
    if lower[0] < 0 and not discharge_allowed:
        lower = (0.0, f"{evse}: needs unknown ({source}), no discharge")
    return (*lower, *upper)


_Limits = tuple[float, str, float, str]
