"""One vehicle's flexibility over the horizon: power bounds per slot and an energy
corridor to departure. See README.md in this folder for the math."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from v2g.envelope.horizon import Horizon
from v2g.fleet import FleetMember
from v2g.limits import PowerBounds

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
    (elastic: missing it costs more than any DR or price gain), and ``reserve_wh`` as the
    hard floor (the owner's reserve, or the energy now if that is lower): no plan
    discharges below it. ``flexible`` is False for a vehicle whose battery is unknown:
    it is charged at full power, as it would be without an aggregator.
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
    #: Hard floor in Wh (absolute, like ``energy_wh``): never discharged below it.
    reserve_wh: float = float("-inf")

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
    return flexibilities([member], horizon, efficiency)[0]


def _unknown_battery(
    member: FleetMember, horizon: Horizon, efficiency: Efficiency, bounds: PowerBounds
) -> Flexibility:
    full = np.full(horizon.slots, bounds.upper.power_w)
    return Flexibility(
        evse_id=member.evse_id,
        bus=member.charger.bus,
        energy_wh=0.0,
        lower_w=full,
        upper_w=full.copy(),
        floor_wh=np.full(horizon.slots, -np.inf),
        ceiling_wh=np.full(horizon.slots, np.inf),
        lower_source=f"{member.evse_id}: EV reports no battery state, charged at full power",
        upper_source=bounds.upper.source,
        floor_source="unknown battery",
        efficiency=efficiency,
        flexible=False,
        priority=member.policy.priority,
    )


def flexibilities(
    members: Sequence[FleetMember], horizon: Horizon, efficiency: Efficiency = Efficiency()
) -> list[Flexibility]:
    """The flexibility of every member, computed for all of them at once (one array
    operation per quantity, not one per vehicle: 10,000 vehicles take ~0.05 s)."""
    slots, slot_s = horizon.slots, horizon.slot_s
    ends_s = np.arange(1, slots + 1) * slot_s  # end of each slot, s from now
    bounds = [m.power_bounds() for m in members]
    batteries = [m.battery() for m in members]
    known = [i for i, b in enumerate(batteries) if b is not None]
    result: list[Flexibility | None] = [
        None if b is not None else _unknown_battery(m, horizon, efficiency, bounds[i])
        for i, (m, b) in enumerate(zip(members, batteries, strict=True))
    ]
    if known:
        battery = [b for b in batteries if b is not None]  # in the order of ``known``
        column = np.array
        energy = column([b.energy_wh for b in battery])[:, None]
        upper = column([bounds[i].upper.power_w for i in known])
        lower = column([bounds[i].lower.power_w for i in known])
        departure = [b.departure or horizon.end for b in battery]
        dwell_s = np.maximum(column([(d - horizon.start).total_seconds() for d in departure]), 0.0)
        # Share of each slot a vehicle is still plugged in (its departure slot is partial).
        present = np.clip((dwell_s[:, None] - (ends_s - slot_s)) / slot_s, 0.0, 1.0)
        until_s = np.minimum(ends_s, dwell_s[:, None])  # connected up to each slot's end
        rate = (np.maximum(upper, 0.0) * efficiency.charge / 3600.0)[:, None]  # Wh per s
        ceiling = np.minimum(column([b.max_wh for b in battery])[:, None], energy + rate * until_s)
        ceiling = np.maximum(ceiling, energy)  # a battery above its max keeps its energy
        floor_base = np.minimum(column([b.reserve_wh for b in battery])[:, None], energy)
        target = column([b.target_wh for b in battery])[:, None]
        must_have = target - rate * (dwell_s[:, None] - until_s)
        shortfall_ok = column([members[i].policy.accept_shortfall for i in known])[:, None]
        floor = np.minimum(
            np.where(shortfall_ok, floor_base, np.maximum(must_have, floor_base)), ceiling
        )
        charge_s = np.divide(
            target[:, 0] - energy[:, 0], rate[:, 0], out=np.zeros(len(known)), where=rate[:, 0] > 0
        )
        laxity_s = dwell_s - np.maximum(charge_s, 0.0)
        lower_w, upper_w = lower[:, None] * present, upper[:, None] * present
        for row, i in enumerate(known):
            member, cell = members[i], battery[row]
            if member.policy.accept_shortfall:
                floor_source = f"reserve of {member.evse_id} (owner accepts shortfall)"
            else:
                when = cell.departure.strftime("%H:%M") if cell.departure else "horizon end"
                floor_source = (
                    f"departure {when} of {member.evse_id} needs {cell.target_wh / 1000:.1f} kWh"
                )
            result[i] = Flexibility(
                evse_id=member.evse_id,
                bus=member.charger.bus,
                energy_wh=cell.energy_wh,
                lower_w=lower_w[row],
                upper_w=upper_w[row],
                floor_wh=floor[row],
                ceiling_wh=ceiling[row],
                lower_source=bounds[i].lower.source,
                upper_source=bounds[i].upper.source,
                floor_source=floor_source,
                efficiency=efficiency,
                laxity_s=float(laxity_s[row]),
                dwell_s=float(dwell_s[row]),
                priority=member.policy.priority,
                reserve_wh=float(floor_base[row, 0]),
            )
    return [f for f in result if f is not None]
