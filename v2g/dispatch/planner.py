"""The planner: fleet and targets in, a verified dispatch plan out (pure, ``now`` given).

    flexibility per vehicle -> groups per bus (or per LV grid) -> group envelopes
      -> [baseline LP without DR] -> DR target -> allocation LP with grid rows
      -> split slot 0 per vehicle -> one AC check (curtail if it disagrees) -> setpoints

A failed or infeasible LP falls back to earliest-departure-first with the same AC
check; the plan says which strategy ran and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from v2g.curves import StepCurve
from v2g.demand_response import DispatchTarget, EventBook, dispatch_target
from v2g.dispatch.allocation import Allocation, AllocationFailed, allocate
from v2g.dispatch.curtail import Verified, verify
from v2g.dispatch.grid import FloatArray, GridModel, GridRows
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.split import Share, split
from v2g.envelope import Efficiency, Flexibility, Horizon, fleet_envelope, flexibility
from v2g.fleet import Fleet
from v2g.limits import Limit
from v2g.session import Setpoint

#: A grid row counts as binding for a group when relaxing it would save at least this
#: much (cost units per kW of group power).
BINDING_DUAL = 1e-6


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """How far ahead and how finely the planner looks, and how long setpoints live."""

    slot_s: float = 900.0
    slots: int = 96
    setpoint_valid_s: float = 1800.0
    max_groups: int = 300
    efficiency: Efficiency = field(default_factory=Efficiency)
    lp_time_limit_s: float = 5.0

    def __post_init__(self) -> None:
        if self.setpoint_valid_s <= 0:
            raise ValueError(f"setpoint_valid_s must be > 0, got {self.setpoint_valid_s}")


@dataclass(frozen=True)
class PlanInputs:
    """Everything a cycle plans from, frozen at the start of the cycle."""

    now: datetime
    fleet: Fleet
    events: EventBook = field(default_factory=EventBook)
    prices: StepCurve = field(default_factory=lambda: StepCurve(()))
    base_load: StepCurve = field(default_factory=lambda: StepCurve((), before=1.0))
    operator_cap_w: float | None = None


@dataclass(frozen=True)
class _Groups:
    ids: list[int]  # group per vehicle
    members: list[list[int]]  # vehicle indices per group
    buses: list[int]  # distinct buses
    weights: FloatArray  # buses x groups


def _groups(flexes: Sequence[Flexibility], grid: GridModel, max_groups: int) -> _Groups:
    buses = sorted({f.bus for f in flexes})
    bus_group = grid.groups(buses, max_groups)
    group_of_bus = dict(zip(buses, bus_group, strict=True))
    renumber: dict[int, int] = {}
    ids = [renumber.setdefault(group_of_bus[f.bus], len(renumber)) for f in flexes]
    members: list[list[int]] = [[] for _ in renumber]
    for i, g in enumerate(ids):
        members[g].append(i)
    # A group's power spreads over its buses in proportion to the vehicles' power range.
    weights = np.zeros((len(buses), len(members)))
    position = {b: j for j, b in enumerate(buses)}
    for i, flex in enumerate(flexes):
        size = float(np.max(np.maximum(flex.upper_w, -flex.lower_w), initial=0.0))
        weights[position[flex.bus], ids[i]] += max(size, 1.0)
    weights /= weights.sum(axis=0, keepdims=True)
    return _Groups(ids, members, buses, weights)


def _setpoint_source(
    share: Share,
    flex: Flexibility,
    group: int,
    allocation: Allocation | None,
    rows: GridRows,
    target: DispatchTarget,
    price_now: float,
) -> str:
    if share.at == "upper":
        return flex.upper_source
    if share.at == "lower":
        return flex.lower_source
    if share.at == "must":
        return flex.floor_source
    if allocation is None:
        return "fallback earliest-departure-first"
    if rows.count and len(allocation.grid_duals):
        pressure = allocation.grid_duals * np.abs(rows.a[:, group])
        row = int(np.argmax(pressure))
        if pressure[row] > BINDING_DUAL:
            return f"feeder: {rows.labels[row]}"
    if target.sources[0] and allocation.target_dual[0] > BINDING_DUAL:
        return target.sources[0]
    return f"cost plan (price now {price_now:.3f}/kWh)"


def _earliest_departure_first(
    flexes: Sequence[Flexibility], cap_w: float, slot_h: float
) -> list[Share]:
    """Fallback: every vehicle at its must-run power, then charging in order of
    departure (least laxity first) at full power, within the fleet cap."""
    ranges = [f.slot0_range_w(slot_h) for f in flexes]
    powers = [max(low, 0.0) if low > 0 else 0.0 for low, _ in ranges]
    budget = cap_w - sum(powers)
    for i in sorted(range(len(flexes)), key=lambda i: (-flexes[i].priority, flexes[i].laxity_s)):
        add = min(max(budget, 0.0), ranges[i][1] - powers[i])
        powers[i] += add
        budget -= add
    return [
        Share(f.evse_id, p, "must" if p > 0 and p <= ranges[i][0] + 1 else "")
        for i, (f, p) in enumerate(zip(flexes, powers, strict=True))
    ]


def plan_dispatch(
    inputs: PlanInputs, grid: GridModel, settings: PlannerSettings = PlannerSettings()
) -> DispatchPlan:
    """The plan for ``inputs`` (see the module docstring)."""
    now = inputs.now
    horizon = Horizon(now, settings.slot_s, settings.slots)
    moments = [horizon.slot_start(k) for k in range(horizon.slots)]
    prices = inputs.prices.sample(moments)
    factors = inputs.base_load.sample(moments)
    base = grid.base_injections(float(factors[0]))
    flexes = [flexibility(m, horizon, settings.efficiency) for m in inputs.fleet]
    envelope = fleet_envelope(flexes, horizon)
    events = inputs.events.overlapping(horizon.start, horizon.end)
    valid_until = now + timedelta(seconds=settings.setpoint_valid_s)
    if not flexes:
        verdict = grid.check(base)
        return DispatchPlan(
            now,
            horizon,
            {},
            np.zeros(horizon.slots),
            DispatchTarget.none(horizon),
            None,
            envelope,
            verdict,
            "idle",
            grid_checks=1,
        )

    groups = _groups(flexes, grid, settings.max_groups)
    group_envelopes = [fleet_envelope([flexes[i] for i in m], horizon) for m in groups.members]
    reach = np.array([float(np.max(np.maximum(e.upper_w, -e.lower_w))) for e in group_envelopes])
    rows = grid.rows(
        groups.weights,
        groups.buses,
        reach,
        float(factors[0]),
        float(np.max(np.abs(factors - factors[0]))),
    )
    notes: list[str] = []

    def solve(target: DispatchTarget) -> Allocation:
        return allocate(
            group_envelopes,
            target,
            prices,
            settings.efficiency,
            rows,
            factors,
            settings.lp_time_limit_s,
        )

    allocation: Allocation | None = None
    baseline: FloatArray | None = None
    no_events = dispatch_target((), horizon, None, inputs.operator_cap_w)
    try:
        if events and any(e.kind == "shed_w" for e in events):
            baseline = solve(no_events).power_w.sum(axis=0)
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        allocation = solve(target)
        if events and baseline is None:
            baseline = solve(no_events).power_w.sum(axis=0)
    except AllocationFailed as failure:
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        notes.append(f"{failure}; fell back to earliest-departure-first")

    if allocation is not None:
        shares: list[Share] = []
        by_vehicle: dict[int, Share] = {}
        for g, members in enumerate(groups.members):
            for i, share in zip(
                members,
                split(
                    float(allocation.power_w[g, 0]), [flexes[i] for i in members], horizon.slot_h
                ),
                strict=True,
            ):
                by_vehicle[i] = share
        shares = [by_vehicle[i] for i in range(len(flexes))]
        fleet_power = allocation.power_w.sum(axis=0)
        strategy = "lp"
    else:
        cap = float(target.cap_w[0]) if np.isfinite(target.cap_w[0]) else np.inf
        shares = _earliest_departure_first(flexes, cap, horizon.slot_h)
        fleet_power = np.array([sum(s.power_w for s in shares)])
        strategy = "earliest-departure-first"

    verified: Verified = verify(
        grid,
        {s.evse_id: s.power_w for s in shares},
        {f.evse_id: f.bus for f in flexes},
        base,
    )
    if verified.kept < 1.0:
        notes.append(
            f"AC check disagreed ({verified.cause.element if verified.cause else 'grid'}); "
            f"plan curtailed to {verified.kept:.0%}"
        )
    setpoints: dict[str, Setpoint] = {}
    for i, (flex, share) in enumerate(zip(flexes, shares, strict=True)):
        power = verified.power_w[flex.evse_id]
        if verified.kept < 1.0 and abs(power - share.power_w) > 1.0:
            cause = verified.cause
            source = (
                f"grid AC: {cause.element} {cause.metric} (curtailed)"
                if cause
                else "grid AC (curtailed)"
            )
        else:
            source = _setpoint_source(
                share, flex, groups.ids[i], allocation, rows, target, float(prices[0])
            )
        setpoints[flex.evse_id] = Setpoint(power, valid_until, Limit(power, source))
    return DispatchPlan(
        created_at=now,
        horizon=horizon,
        setpoints=setpoints,
        fleet_power_w=fleet_power,
        target=target,
        baseline_w=baseline,
        envelope=envelope,
        verdict=verified.verdict,
        strategy=strategy,
        notes=tuple(notes),
        grid_checks=verified.checks,
    )
