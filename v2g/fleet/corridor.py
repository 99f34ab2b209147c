"""A vehicle's needs as one energy corridor to its departure, from what it actually said.

Three sources, best first (the corridor states which one it came from):

- ``ev energy requests``: ISO 15118-20 EVMinimum/Target/MaximumEnergyRequest and, in
  BPT dynamic mode, EVMinimum/MaximumV2XEnergyRequest (energy from the report on; the
  EV re-sends them in every ChargeLoopReq, [V2G20-2663] MobilityNeedsMode 1); also the
  -2 AC EAmount and the -2/DIN DC EVEnergyRequest (a target energy only).
- ``soc and capacity``: state of charge, capacity and target SoC (-2, DIN, -20
  scheduled with DisplayParameters).
- ``site default``: neither; the site's ``DefaultNeeds`` (energy by a default dwell, no
  discharge). Unknown is not must-run.

All energies are Wh relative to the energy on board now (+ = more than now).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.clock import require_aware
from v2g.fleet.member import FleetMember
from v2g.fleet.policy import DefaultNeeds
from v2g.session import ChargeNeeds

ENERGY_REQUESTS = "ev energy requests"
SOC_AND_CAPACITY = "soc and capacity"
SITE_DEFAULT = "site default"


@dataclass(frozen=True, slots=True)
class Corridor:
    """Where one vehicle's stored energy may go between now and ``departure``.

    ``energy_wh``: energy on board now (absolute Wh when SoC and capacity are known,
    else 0: the corridor is then counted from now). Relative to it: ``low_wh`` (<= 0)
    is the least energy the vehicle may hold at any time (reserve, EVMinimumV2X), and
    ``high_wh`` (>= 0, may be inf) the most (EVMaximumEnergyRequest, V2X maximum, max
    SoC); ``need_wh`` is the energy it must have gained by ``departure`` (target, or
    the minimum where the owner accepts a shortfall), ``low_wh <= need_wh <= high_wh``.
    ``discharge_allowed`` is False where its needs were guessed. ``guessed`` says what
    was guessed and why (None: all stated by the vehicle).
    """

    source: str
    energy_wh: float
    low_wh: float
    need_wh: float
    high_wh: float
    departure: datetime
    discharge_allowed: bool = True
    guessed: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.departure, "departure")
        for name in ("energy_wh", "low_wh", "need_wh"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"corridor {name} must be finite, got {getattr(self, name)}")
        if math.isnan(self.high_wh):
            raise ValueError("corridor high_wh is NaN")
        if not self.low_wh <= 0.0 <= self.high_wh:
            raise ValueError(
                f"corridor must contain now: low {self.low_wh} <= 0 <= high {self.high_wh} Wh"
            )
        if not self.low_wh <= self.need_wh <= self.high_wh:
            raise ValueError(
                f"corridor need {self.need_wh} Wh outside [{self.low_wh}, {self.high_wh}] Wh"
            )


def corridor_of(member: FleetMember, now: datetime) -> Corridor:
    """The corridor of ``member`` as of ``now`` (pure)."""
    needs = member.needs
    departure, late = _departure(member, now)
    if needs is not None and needs.has_energy_requests:
        return _from_requests(member, needs, departure, late)
    battery = _battery_now(member)
    if needs is not None and battery is not None:
        return _from_soc(member, needs, battery, departure, late)
    return _site_default(member, departure, late)


def expected_departure(member: FleetMember, now: datetime) -> datetime:
    """When ``member`` is expected to leave, as its corridor takes it (stated, or
    guessed from the site's default dwell)."""
    return _departure(member, now)[0]


def _departure(member: FleetMember, now: datetime) -> tuple[datetime, str | None]:
    """The stated departure (never before now), else the site's guess and why."""
    stated = member.needs.departure if member.needs else None
    if stated is not None:
        return max(stated, now), None
    default: DefaultNeeds = member.default_needs
    guess = member.plugged_in_at + timedelta(seconds=default.dwell_s)
    if guess <= now:
        guess = now + timedelta(seconds=default.overstay_s)
        why = (
            f"no departure time, still here after the site's default dwell: "
            f"expected by {guess:%H:%M}"
        )
    else:
        why = f"no departure time: site default dwell {default.dwell_s / 3600:g} h, {guess:%H:%M}"
    return guess, why


def _battery_now(member: FleetMember) -> tuple[float, float] | None:
    """(capacity, energy on board) in Wh where SoC and capacity are known."""
    needs = member.needs
    if needs is None or needs.battery_capacity_wh is None:
        return None
    soc = member.soc_percent if member.soc_percent is not None else needs.soc_percent
    if soc is None:
        return None
    return needs.battery_capacity_wh, needs.battery_capacity_wh * soc / 100.0


def _reserve_low(member: FleetMember, battery: tuple[float, float] | None) -> float | None:
    """The owner's reserve relative to now (<= 0), where the battery is known."""
    if battery is None:
        return None
    capacity, energy = battery
    return min(capacity * member.policy.reserve_soc_percent / 100.0 - energy, 0.0)


def _from_requests(
    member: FleetMember, needs: ChargeNeeds, departure: datetime, late: str | None
) -> Corridor:
    # The requests count from their report; the energy delivered since moves them.
    moved = member.delivered_wh - member.needs_delivered_wh

    def now_of(value: float | None) -> float | None:
        return None if value is None else value - moved

    minimum, target, maximum = map(
        now_of, (needs.min_energy_wh, needs.target_energy_wh, needs.max_energy_wh)
    )
    v2x_min, v2x_max = now_of(needs.min_v2x_energy_wh), now_of(needs.max_v2x_energy_wh)
    battery = _battery_now(member)
    # Discharge never goes below the EV's V2X minimum (else its minimum request) nor
    # below the owner's reserve; a vehicle already below stays where it is.
    floors = [v for v in (v2x_min, _reserve_low(member, battery)) if v is not None]
    if not floors:
        floors = [min(minimum, 0.0) if minimum is not None else 0.0]
    low = min(max(floors), 0.0)
    wanted = _first(target, maximum, minimum)
    # V2X charging stops at the EV's V2X maximum, its own target may go beyond it.
    full = None if battery is None else _max_wh(needs, battery[0]) - battery[1]
    caps = [v for v in (maximum, v2x_max, full) if v is not None]
    high = max(min(caps) if caps else math.inf, 0.0, wanted if wanted is not None else 0.0)
    if maximum is not None:
        high = min(high, max(maximum, 0.0))
    if member.policy.accept_shortfall:
        # Within the corridor the vehicle states: never below EVMinimumEnergyRequest.
        need = minimum if minimum is not None else low
    else:
        need = wanted if wanted is not None else low
    need = min(max(need, low, minimum if minimum is not None else -math.inf), high)
    return Corridor(
        source=ENERGY_REQUESTS,
        energy_wh=battery[1] if battery else 0.0,
        low_wh=low,
        need_wh=need,
        high_wh=high,
        departure=departure,
        guessed=late,
    )


def _from_soc(
    member: FleetMember,
    needs: ChargeNeeds,
    battery: tuple[float, float],
    departure: datetime,
    late: str | None,
) -> Corridor:
    capacity, energy = battery
    max_wh = _max_wh(needs, capacity)
    target_soc = needs.target_soc_percent
    target = max_wh if target_soc is None else min(capacity * target_soc / 100.0, max_wh)
    low = _reserve_low(member, battery) or 0.0
    high = max(max_wh - energy, 0.0)
    if member.policy.accept_shortfall:
        minimum = needs.min_soc_percent
        need = low if minimum is None else capacity * minimum / 100.0 - energy
    else:
        need = target - energy
    return Corridor(
        source=SOC_AND_CAPACITY,
        energy_wh=energy,
        low_wh=low,
        need_wh=min(max(need, low), high),
        high_wh=high,
        departure=departure,
        guessed=late,
    )


def _site_default(member: FleetMember, departure: datetime, late: str | None) -> Corridor:
    default = member.default_needs
    need = max(default.energy_wh - member.delivered_wh, 0.0)
    why = (
        "reports neither -20 energy requests nor SoC and capacity: site default "
        f"{default.energy_wh / 1000:g} kWh from plug-in, no discharge"
    )
    return Corridor(
        source=SITE_DEFAULT,
        energy_wh=0.0,
        low_wh=0.0,
        need_wh=need,
        high_wh=math.inf,
        departure=departure,
        discharge_allowed=False,
        guessed=why if late is None else f"{why}; {late}",
    )


def _max_wh(needs: ChargeNeeds, capacity: float) -> float:
    """The most energy the battery takes (its max SoC, else full), Wh."""
    return capacity * (needs.max_soc_percent or 100.0) / 100.0


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
