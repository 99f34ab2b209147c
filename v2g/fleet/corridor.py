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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from v2g.clock import require_aware
from v2g.fleet.member import FleetMember
from v2g.fleet.policy import DefaultNeeds
from v2g.session import ChargeNeeds

FloatArray = npt.NDArray[np.float64]

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
    return Corridor(
        source=SITE_DEFAULT,
        energy_wh=0.0,
        low_wh=0.0,
        need_wh=need,
        high_wh=math.inf,
        departure=departure,
        discharge_allowed=False,
        guessed=_default_why(member, late),
    )


def _max_wh(needs: ChargeNeeds, capacity: float) -> float:
    """The most energy the battery takes (its max SoC, else full), Wh."""
    return capacity * (needs.max_soc_percent or 100.0) / 100.0


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


@dataclass(frozen=True)
class Corridors:
    """The corridors of many vehicles at once, entry i for vehicle i: the numbers of
    ``corridor_of`` as arrays (Wh, relative to the energy on board now), computed one
    array operation per step rather than one Python call per vehicle."""

    source: tuple[str, ...]
    energy_wh: FloatArray = field(repr=False)
    low_wh: FloatArray = field(repr=False)
    need_wh: FloatArray = field(repr=False)
    high_wh: FloatArray = field(repr=False)
    departure: tuple[datetime, ...]
    discharge_allowed: npt.NDArray[np.bool_] = field(repr=False)
    guessed: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.source)

    def at(self, i: int) -> Corridor:
        """Vehicle i's corridor (checked as ``Corridor`` checks it)."""
        return Corridor(
            self.source[i],
            float(self.energy_wh[i]),
            float(self.low_wh[i]),
            float(self.need_wh[i]),
            float(self.high_wh[i]),
            self.departure[i],
            bool(self.discharge_allowed[i]),
            self.guessed[i],
        )


def corridors(members: Sequence[FleetMember], now: datetime) -> Corridors:
    """``corridor_of`` every member as of ``now`` (pure), the same numbers: what each
    vehicle said is read once into columns (None as NaN), then each source's rule is
    applied to all vehicles with a mask per source."""
    departures = [_departure(m, now) for m in members]
    said = _said(members)
    stated = np.isnan(said.minimum) & np.isnan(said.target) & np.isnan(said.maximum)
    requests = said.has_needs & ~stated
    battery = said.has_needs & ~np.isnan(said.capacity) & ~np.isnan(said.soc)
    soc_only = ~requests & battery
    default = ~requests & ~battery
    by_requests, by_soc = _requests_rule(said, battery), _soc_rule(said)
    by_default = (
        np.zeros(len(members)),
        np.zeros(len(members)),
        np.maximum(said.default_wh - said.delivered, 0.0),
        np.full(len(members), math.inf),
    )
    energy, low, need, high = (
        np.where(requests, r, np.where(soc_only, s, d))
        for r, s, d in zip(by_requests, by_soc, by_default, strict=True)
    )
    source = tuple(
        ENERGY_REQUESTS if r else SOC_AND_CAPACITY if s else SITE_DEFAULT
        for r, s in zip(requests.tolist(), soc_only.tolist(), strict=True)
    )
    guessed = tuple(
        _default_why(m, late) if d else late
        for m, (_, late), d in zip(members, departures, default.tolist(), strict=True)
    )
    result = Corridors(
        source, energy, low, need, high, tuple(d for d, _ in departures), ~default, guessed
    )
    _check(result)
    return result


@dataclass(frozen=True)
class _Said:
    """What each vehicle said, one column per quantity (NaN where it said nothing)."""

    has_needs: npt.NDArray[np.bool_]
    minimum: FloatArray
    target: FloatArray
    maximum: FloatArray
    v2x_min: FloatArray
    v2x_max: FloatArray
    capacity: FloatArray
    soc: FloatArray
    min_soc: FloatArray
    target_soc: FloatArray
    max_soc: FloatArray
    delivered: FloatArray
    needs_delivered: FloatArray
    reserve_soc: FloatArray
    accept_shortfall: npt.NDArray[np.bool_]
    default_wh: FloatArray


def _said(members: Sequence[FleetMember]) -> _Said:
    nothing = (None,) * 10

    def row(m: FleetMember) -> tuple[object, ...]:
        n = m.needs
        stated = (
            nothing
            if n is None
            else (
                n.min_energy_wh,
                n.target_energy_wh,
                n.max_energy_wh,
                n.min_v2x_energy_wh,
                n.max_v2x_energy_wh,
                n.battery_capacity_wh,
                m.soc_percent if m.soc_percent is not None else n.soc_percent,
                n.min_soc_percent,
                n.target_soc_percent,
                # ``or``: a max SoC of 0 % reads as none stated, as in ``_max_wh``.
                n.max_soc_percent or None,
            )
        )
        policy = m.policy
        return (
            n is not None,
            *stated,
            m.delivered_wh,
            m.needs_delivered_wh,
            policy.reserve_soc_percent,
            policy.accept_shortfall,
            m.default_needs.energy_wh,
        )

    table = np.array([row(m) for m in members], dtype=np.float64).reshape(len(members), 16)
    c = table.T
    return _Said(
        has_needs=c[0] > 0,
        minimum=c[1],
        target=c[2],
        maximum=c[3],
        v2x_min=c[4],
        v2x_max=c[5],
        capacity=c[6],
        soc=c[7],
        min_soc=c[8],
        target_soc=c[9],
        max_soc=c[10],
        delivered=c[11],
        needs_delivered=c[12],
        reserve_soc=c[13],
        accept_shortfall=c[14] > 0,
        default_wh=c[15],
    )


def _reserve_rule(said: _Said, energy: FloatArray) -> FloatArray:
    """``_reserve_low`` per vehicle (NaN where the battery is unknown)."""
    return np.minimum(said.capacity * said.reserve_soc / 100.0 - energy, 0.0)


def _max_wh_rule(said: _Said) -> FloatArray:
    return said.capacity * np.where(np.isnan(said.max_soc), 100.0, said.max_soc) / 100.0


_Rule = tuple[FloatArray, FloatArray, FloatArray, FloatArray]  # energy, low, need, high


def _soc_rule(said: _Said) -> _Rule:
    """``_from_soc`` for every vehicle (meaningful where SoC and capacity are known)."""
    capacity = said.capacity
    energy = capacity * said.soc / 100.0
    max_wh = _max_wh_rule(said)
    target = np.where(
        np.isnan(said.target_soc), max_wh, np.minimum(capacity * said.target_soc / 100.0, max_wh)
    )
    low = _reserve_rule(said, energy)
    low = np.where(low == 0.0, 0.0, low)  # ``or 0.0``: no negative zero
    high = np.maximum(max_wh - energy, 0.0)
    need = np.where(
        said.accept_shortfall,
        np.where(np.isnan(said.min_soc), low, capacity * said.min_soc / 100.0 - energy),
        target - energy,
    )
    return energy, low, np.minimum(np.maximum(need, low), high), high


def _requests_rule(said: _Said, battery: npt.NDArray[np.bool_]) -> _Rule:
    """``_from_requests`` for every vehicle (meaningful where it sent requests)."""
    moved = said.delivered - said.needs_delivered
    minimum, target, maximum = said.minimum - moved, said.target - moved, said.maximum - moved
    v2x_min, v2x_max = said.v2x_min - moved, said.v2x_max - moved
    energy = np.where(battery, said.capacity * said.soc / 100.0, np.nan)
    reserve = _reserve_rule(said, energy)
    fallback = np.where(np.isnan(minimum), 0.0, np.minimum(minimum, 0.0))
    floor = _first_of(np.fmax(v2x_min, reserve), fallback)
    low = np.minimum(floor, 0.0)
    wanted = _first_of(target, maximum, minimum)
    full = np.where(battery, _max_wh_rule(said) - energy, np.nan)
    caps = _first_of(np.fmin(np.fmin(maximum, v2x_max), full), np.full(len(moved), math.inf))
    high = np.maximum(np.maximum(caps, 0.0), _first_of(wanted, np.zeros(len(moved))))
    high = np.where(np.isnan(maximum), high, np.minimum(high, np.maximum(maximum, 0.0)))
    need = np.where(said.accept_shortfall, _first_of(minimum, low), _first_of(wanted, low))
    need = np.maximum(np.maximum(need, low), _first_of(minimum, np.full(len(moved), -math.inf)))
    need = np.minimum(need, high)
    return np.where(battery, energy, 0.0), low, need, high


def _first_of(*columns: FloatArray) -> FloatArray:
    """Per entry, the first column's value that is not NaN (NaN if none is)."""
    result = columns[-1]
    for column in reversed(columns[:-1]):
        result = np.where(np.isnan(column), result, column)
    return result


def _default_why(member: FleetMember, late: str | None) -> str:
    default = member.default_needs
    why = (
        "reports neither -20 energy requests nor SoC and capacity: site default "
        f"{default.energy_wh / 1000:g} kWh from plug-in, no discharge"
    )
    return why if late is None else f"{why}; {late}"


def _check(found: Corridors) -> None:
    """``Corridor``'s own checks, on every vehicle at once: the first that fails says
    why through ``Corridor`` itself."""
    finite = np.isfinite(found.energy_wh) & np.isfinite(found.low_wh) & np.isfinite(found.need_wh)
    ordered = (found.low_wh <= 0.0) & (found.high_wh >= 0.0)
    ordered &= (found.low_wh <= found.need_wh) & (found.need_wh <= found.high_wh)
    for i in np.flatnonzero(~(finite & ordered))[:1]:
        found.at(int(i))  # raises the ValueError that says what is wrong
