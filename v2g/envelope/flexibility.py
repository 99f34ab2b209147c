"""One vehicle's flexibility over the horizon: power bounds per slot and an energy
corridor to departure. See README.md in this folder for the math."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from v2g.envelope.horizon import Horizon
from v2g.fleet import FleetMember

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
    vehicle alone by construction. ``flexible`` is False for a vehicle whose battery is
    unknown: it is charged at full power, as it would be without an aggregator.
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
    flexible: bool = True
    laxity_s: float = float("inf")
    dwell_s: float = float("inf")
    priority: int = 0

    def slot0_range_w(self, slot_h: float) -> tuple[float, float]:
        """The power range in slot 0 that keeps the vehicle inside its corridor at the
        end of the slot (within its power bounds; the bounds win if they conflict)."""
        lower, upper = float(self.lower_w[0]), float(self.upper_w[0])
        if not self.flexible or slot_h <= 0:
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
    slots = horizon.slots
    ends_s = np.arange(1, slots + 1) * horizon.slot_s  # end of each slot, s from now
    bounds = member.power_bounds()
    lower, upper = bounds.lower.power_w, bounds.upper.power_w
    battery = member.battery()
    if battery is None:
        full = np.full(slots, upper)
        return Flexibility(
            evse_id=member.evse_id,
            bus=member.charger.bus,
            energy_wh=0.0,
            lower_w=full,
            upper_w=full.copy(),
            floor_wh=np.full(slots, -np.inf),
            ceiling_wh=np.full(slots, np.inf),
            lower_source=f"{member.evse_id}: EV reports no battery state, charged at full power",
            upper_source=bounds.upper.source,
            floor_source="unknown battery",
            efficiency=efficiency,
            flexible=False,
            priority=member.policy.priority,
        )
    departure = battery.departure or horizon.end
    dwell_s = max((departure - horizon.start).total_seconds(), 0.0)
    # Share of each slot the vehicle is still plugged in (the departure slot is partial).
    present = np.clip((dwell_s - (ends_s - horizon.slot_s)) / horizon.slot_s, 0.0, 1.0)
    until_s = np.minimum(ends_s, dwell_s)  # time connected up to the end of each slot
    charge_wh_per_s = max(upper, 0.0) * efficiency.charge / 3600.0
    ceiling = np.minimum(battery.max_wh, battery.energy_wh + charge_wh_per_s * until_s)
    ceiling = np.maximum(ceiling, battery.energy_wh)  # a battery above its max keeps its energy
    floor_base = min(battery.reserve_wh, battery.energy_wh)
    if member.policy.accept_shortfall:
        floor = np.full(slots, floor_base)
        floor_source = f"reserve of {member.evse_id} (owner accepts shortfall)"
    else:
        must_have = battery.target_wh - charge_wh_per_s * (dwell_s - until_s)
        floor = np.maximum(must_have, floor_base)
        when = departure.strftime("%H:%M") if battery.departure else "horizon end"
        floor_source = (
            f"departure {when} of {member.evse_id} needs {battery.target_wh / 1000:.1f} kWh"
        )
    floor = np.minimum(floor, ceiling)
    charge_s = (
        (battery.target_wh - battery.energy_wh) / charge_wh_per_s if charge_wh_per_s > 0 else 0.0
    )
    return Flexibility(
        evse_id=member.evse_id,
        bus=member.charger.bus,
        energy_wh=battery.energy_wh,
        lower_w=lower * present,
        upper_w=upper * present,
        floor_wh=floor,
        ceiling_wh=ceiling,
        lower_source=bounds.lower.source,
        upper_source=bounds.upper.source,
        floor_source=floor_source,
        efficiency=efficiency,
        laxity_s=dwell_s - max(charge_s, 0.0),
        dwell_s=dwell_s,
        priority=member.policy.priority,
    )
