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
from v2g.envelope import (
    Efficiency,
    FleetEnvelope,
    Flexibility,
    Horizon,
    fleet_envelope,
    flexibility,
)
from v2g.fleet import Fleet
from v2g.limits import Limit
from v2g.session import Setpoint


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
    """Vehicles grouped per bus (or per LV grid): the LP's unit of planning."""

    ids: list[int]  # group per vehicle
    members: list[list[int]]  # vehicle indices per group
    buses: list[int]  # distinct buses
    weights: FloatArray  # buses x groups: how a group's power spreads over its buses


def _groups(flexes: Sequence[Flexibility], grid: GridModel, max_groups: int) -> _Groups:
    buses = sorted({f.bus for f in flexes})
    group_of_bus = dict(zip(buses, grid.groups(buses, max_groups), strict=True))
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


@dataclass(frozen=True)
class _Problem:
    """One cycle's planning problem, built once and solved once or twice."""

    horizon: Horizon
    flexes: list[Flexibility]
    groups: _Groups
    envelopes: list[FleetEnvelope]
    rows: GridRows
    prices: FloatArray
    factors: FloatArray

    def solve(self, target: DispatchTarget, settings: PlannerSettings) -> Allocation:
        return allocate(
            self.envelopes,
            target,
            self.prices,
            settings.efficiency,
            self.rows,
            self.factors,
            settings.lp_time_limit_s,
        )

    def shares(self, allocation: Allocation) -> list[Share]:
        by_vehicle: dict[int, Share] = {}
        for g, members in enumerate(self.groups.members):
            vehicles = [self.flexes[i] for i in members]
            power = _snap(
                float(allocation.power_w[g, 0]),
                float(self.envelopes[g].lower_w[0]),
                float(self.envelopes[g].upper_w[0]),
            )
            shares = split(power, vehicles, self.horizon.slot_h)
            by_vehicle.update(zip(members, shares, strict=True))
        return [by_vehicle[i] for i in range(len(self.flexes))]


#: An interior-point solution stops this close (W) inside a bound it means to reach.
SNAP_W = 10.0


def _snap(power_w: float, lower_w: float, upper_w: float) -> float:
    """``power_w`` within its bounds, on a bound it is within SNAP_W of."""
    power_w = min(max(power_w, lower_w), upper_w)
    if upper_w - power_w < SNAP_W:
        return upper_w
    if power_w - lower_w < SNAP_W:
        return lower_w
    return 0.0 if abs(power_w) < SNAP_W else power_w


def _problem(
    inputs: PlanInputs, grid: GridModel, settings: PlannerSettings, horizon: Horizon
) -> _Problem:
    moments = [horizon.slot_start(k) for k in range(horizon.slots)]
    factors = inputs.base_load.sample(moments)
    flexes = [flexibility(m, horizon, settings.efficiency) for m in inputs.fleet]
    groups = _groups(flexes, grid, settings.max_groups)
    envelopes = [fleet_envelope([flexes[i] for i in m], horizon) for m in groups.members]
    reach = np.array([float(np.max(np.maximum(e.upper_w, -e.lower_w))) for e in envelopes])
    rows = grid.rows(
        groups.weights,
        groups.buses,
        reach,
        float(factors[0]),
        float(np.max(np.abs(factors - factors[0]))),
    )
    return _Problem(
        horizon, flexes, groups, envelopes, rows, inputs.prices.sample(moments), factors
    )


def _earliest_departure_first(
    flexes: Sequence[Flexibility], cap_w: float, slot_h: float
) -> list[Share]:
    """Fallback: every vehicle at its must-run power, then charging in order of
    departure (least laxity first) at full power, within the fleet cap."""
    ranges = [f.slot0_range_w(slot_h) for f in flexes]
    powers = [max(low, 0.0) for low, _ in ranges]
    budget = cap_w - sum(powers)
    for i in sorted(range(len(flexes)), key=lambda i: (-flexes[i].priority, flexes[i].laxity_s)):
        add = min(max(budget, 0.0), ranges[i][1] - powers[i])
        powers[i] += add
        budget -= add
    return [
        Share(f.evse_id, p, "must" if 0 < p <= ranges[i][0] + 1.0 else "")
        for i, (f, p) in enumerate(zip(flexes, powers, strict=True))
    ]


def _source(
    share: Share,
    flex: Flexibility,
    group: int,
    allocation: Allocation | None,
    rows: GridRows,
    target: DispatchTarget,
    price_now: float,
) -> str:
    """The limit that shaped a vehicle's power, most specific first."""
    if share.at == "upper":
        return flex.upper_source
    if share.at == "lower":
        return flex.lower_source
    if share.at == "must":
        return flex.floor_source
    if allocation is None:
        return "fallback earliest-departure-first"
    if rows.count and allocation.grid_binding.any():
        # The binding row on which this group's power weighs most.
        pressure = np.where(allocation.grid_binding, np.abs(rows.a[:, group]), 0.0)
        row = int(np.argmax(pressure))
        if pressure[row] > 0:
            return f"feeder: {rows.labels[row]}"
    if target.sources[0]:
        return target.sources[0]
    return f"cost plan (price now {price_now:.3f}/kWh)"


def plan_dispatch(
    inputs: PlanInputs, grid: GridModel, settings: PlannerSettings | None = None
) -> DispatchPlan:
    """The plan for ``inputs`` (see the module docstring)."""
    settings = settings or PlannerSettings()
    now = inputs.now
    horizon = Horizon(now, settings.slot_s, settings.slots)
    base = grid.base_injections(inputs.base_load.at(now))
    events = inputs.events.overlapping(horizon.start, horizon.end)
    if not len(inputs.fleet):
        return DispatchPlan(
            created_at=now,
            horizon=horizon,
            setpoints={},
            fleet_power_w=np.zeros(horizon.slots),
            target=dispatch_target(events, horizon, None, inputs.operator_cap_w),
            baseline_w=None,
            envelope=fleet_envelope([], horizon),
            verdict=grid.check(base),
            strategy="idle",
            grid_checks=1,
        )
    problem = _problem(inputs, grid, settings, horizon)
    notes: list[str] = []
    allocation: Allocation | None = None
    baseline: FloatArray | None = None
    try:
        if any(e.kind != "export_w" for e in events):
            without = dispatch_target((), horizon, None, inputs.operator_cap_w)
            baseline = problem.solve(without, settings).power_w.sum(axis=0)
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        allocation = problem.solve(target, settings)
    except AllocationFailed as failure:
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        notes.append(f"{failure}; fell back to earliest-departure-first")

    if allocation is not None:
        shares = problem.shares(allocation)
        fleet_power = allocation.power_w.sum(axis=0)
        strategy = "lp"
    else:
        cap = float(target.cap_w[0])
        shares = _earliest_departure_first(problem.flexes, cap, horizon.slot_h)
        fleet_power = np.array([sum(s.power_w for s in shares)])
        strategy = "earliest-departure-first"

    verified: Verified = verify(
        grid,
        {s.evse_id: s.power_w for s in shares},
        {f.evse_id: f.bus for f in problem.flexes},
        base,
    )
    if verified.kept < 1.0:
        cause = verified.cause.element if verified.cause else "grid"
        notes.append(f"AC check disagreed ({cause}); plan curtailed to {verified.kept:.0%}")
    valid_until = now + timedelta(seconds=settings.setpoint_valid_s)
    setpoints: dict[str, Setpoint] = {}
    for i, (flex, share) in enumerate(zip(problem.flexes, shares, strict=True)):
        power = verified.power_w[flex.evse_id]
        if abs(power - share.power_w) > 1.0:
            cause_v = verified.cause
            source = (
                f"grid AC: {cause_v.element} {cause_v.metric} (curtailed)"
                if cause_v
                else "grid AC (curtailed)"
            )
        else:
            source = _source(
                share,
                flex,
                problem.groups.ids[i],
                allocation,
                problem.rows,
                target,
                float(problem.prices[0]),
            )
        setpoints[flex.evse_id] = Setpoint(power, valid_until, Limit(power, source))
    return DispatchPlan(
        created_at=now,
        horizon=horizon,
        setpoints=setpoints,
        fleet_power_w=fleet_power,
        target=target,
        baseline_w=baseline,
        envelope=fleet_envelope(problem.flexes, horizon),
        verdict=verified.verdict,
        strategy=strategy,
        notes=tuple(notes),
        grid_checks=verified.checks,
    )
