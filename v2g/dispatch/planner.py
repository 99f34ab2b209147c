"""The planner: fleet and targets in, a verified dispatch plan out (pure, ``now`` given).

    flexibility per vehicle -> groups per bus (or per LV grid) -> zones of groups
      -> [baseline LP without DR] -> DR target -> horizon LP per zone with grid rows
      -> slot-0 LP per group with every grid row (large fleets only)
      -> split slot 0 per vehicle -> one AC check (curtail if it disagrees) -> setpoints

Fleets up to ``max_groups`` vehicles are planned per vehicle. The horizon LP sees at
most ``max_zones`` zones (groups of groups) and the ``horizon_rows`` nearest grid rows;
when it saw less than that, slot 0 is solved again per group in full grid detail,
because a horizon LP with every group and every row grows as groups x rows x slots.

A failed or infeasible LP falls back to earliest-departure-first with the same AC
check; the plan says which strategy ran and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridmodel import Violation
from v2g.demand_response import DispatchTarget, dispatch_target
from v2g.dispatch.allocation import (
    Allocation,
    AllocationFailed,
    IntArray,
    allocate,
    allocate_now,
)
from v2g.dispatch.baselines import earliest_departure_first
from v2g.dispatch.curtail import Verified, verify
from v2g.dispatch.grid import FloatArray, GridModel, GridRows
from v2g.dispatch.inputs import PlanInputs, PlannerSettings
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.split import Share, split
from v2g.envelope import (
    FleetEnvelope,
    Flexibility,
    Horizon,
    fleet_envelope,
    flexibilities,
)
from v2g.limits import Limit
from v2g.session import Setpoint


@dataclass(frozen=True)
class _Groups:
    """Vehicles grouped per bus (or per LV grid): the LP's unit of planning."""

    ids: list[int]  # group per vehicle
    members: list[list[int]]  # vehicle indices per group
    buses: list[int]  # distinct buses
    weights: FloatArray  # buses x groups: how a group's power spreads over its buses


def _groups(flexes: Sequence[Flexibility], grid: GridModel, max_groups: int) -> _Groups:
    """Each vehicle its own group while the fleet is small (exact corridors); else the
    grid's groups (per bus, or per LV grid), whose summed corridors are an outer
    approximation that the split per vehicle then has to live with."""
    buses = sorted({f.bus for f in flexes})
    if len(flexes) <= max_groups:
        ids = list(range(len(flexes)))
    else:
        group_of_bus = dict(zip(buses, grid.groups(buses, max_groups), strict=True))
        renumber: dict[int, int] = {}
        ids = [renumber.setdefault(group_of_bus[f.bus], len(renumber)) for f in flexes]

    members: list[list[int]] = [[] for _ in range(max(ids, default=-1) + 1)]
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


def _zones(groups: _Groups, max_zones: int) -> IntArray:
    """A zone per group: the groups themselves when few; else contiguous runs of
    groups in bus order (networks number their buses feeder by feeder, so a run is
    electrically close), each about the same size."""
    count = len(groups.members)
    if count <= max_zones:
        return np.arange(count)
    first_bus = [
        min(groups.buses[j] for j in np.flatnonzero(groups.weights[:, g])) for g in range(count)
    ]
    order = np.argsort(first_bus, kind="stable")
    zone = np.empty(count, dtype=np.int64)
    zone[order] = np.arange(count) * max_zones // count
    return zone


@dataclass(frozen=True)
class _Problem:
    """One cycle's planning problem, built once and solved once or twice."""

    horizon: Horizon
    flexes: list[Flexibility]
    groups: _Groups
    envelopes: list[FleetEnvelope]
    rows: GridRows  # per group, slot 0's operating point
    zone_of: IntArray  # zone per group
    zone_envelopes: list[FleetEnvelope]
    zone_rows: GridRows
    prices: FloatArray
    factors: FloatArray

    @property
    def coarse(self) -> bool:
        """The horizon LP saw less than slot 0 needs: zones instead of groups, fewer
        rows, or rows still pending (slot 0 is then solved again in full)."""
        pending = self.rows.pending is not None and not self.rows.pending.empty
        return (
            len(self.zone_envelopes) < len(self.envelopes)
            or self.zone_rows.count < self.rows.count
            or pending
        )

    def solve(self, target: DispatchTarget, settings: PlannerSettings) -> Allocation:
        """The horizon LP per zone."""
        return allocate(
            self.zone_envelopes,
            target,
            self.prices,
            settings.efficiency,
            self.zone_rows,
            self.factors,
            settings.lp_time_limit_s,
        )

    def now(
        self, allocation: Allocation, settings: PlannerSettings
    ) -> tuple[FloatArray, npt.NDArray[np.bool_], GridRows]:
        """Slot-0 power per group (W), the group rows used and which of them bind.

        Zoned plans are refined per group with every row of slot 0. Rows that were
        left out (beyond ``max_rows``) come back by row generation: a plan that breaks
        one of them in the linear model is solved again with its rows added."""
        envelopes = self.envelopes
        if not self.coarse:
            lower = np.array([e.lower_w[0] for e in envelopes])
            upper = np.array([e.upper_w[0] for e in envelopes])
            power, binding, rows = allocation.power_w[:, 0], allocation.grid_binding, self.rows
        else:
            ranges = [
                [self.flexes[i].slot0_range_w(self.horizon.slot_h) for i in members]
                for members in self.groups.members
            ]
            lower = np.array([sum(low for low, _ in r) for r in ranges])
            upper = np.array([sum(high for _, high in r) for r in ranges])
            rows = self.rows
            for _ in range(ROW_GENERATION_ROUNDS):
                power, binding = allocate_now(
                    lower,
                    upper,
                    self.zone_of,
                    allocation.power_w[:, 0],
                    rows,
                    settings.lp_time_limit_s,
                )
                if rows.pending is None:
                    break
                extra = rows.pending.violated(power)
                if not extra.count:
                    break
                rows = rows.plus(extra)
        snapped = np.array(
            [_snap(float(p), lo, hi) for p, lo, hi in zip(power, lower, upper, strict=True)]
        )
        return snapped, binding, rows

    def near(self, violation: Violation, rows: GridRows) -> set[str]:
        """The vehicles whose group weighs on the violated element (at least 5 % of the
        heaviest group), from its rows or its pending entry; empty if unknown."""
        prefix = violation.element + " "
        mine = [i for i, label in enumerate(rows.labels) if label.startswith(prefix)]
        weight: FloatArray | None = np.abs(rows.a[mine]).max(axis=0) if mine else None
        if weight is None and rows.pending is not None:
            weight = rows.pending.weight_of(violation.element)
        if weight is None or weight.max() <= 0:
            return set()
        heavy = np.flatnonzero(weight >= 0.05 * weight.max())
        return {self.flexes[i].evse_id for g in heavy for i in self.groups.members[int(g)]}

    def shares(self, group_power_w: FloatArray) -> list[Share]:
        by_vehicle: dict[int, Share] = {}
        for g, members in enumerate(self.groups.members):
            vehicles = [self.flexes[i] for i in members]
            shares = split(float(group_power_w[g]), vehicles, self.horizon.slot_h)
            by_vehicle.update(zip(members, shares, strict=True))
        return [by_vehicle[i] for i in range(len(self.flexes))]


#: Rounds of row generation for slot 0 at most (each adds the rows a plan broke).
ROW_GENERATION_ROUNDS = 4
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
    flexes = flexibilities(list(inputs.fleet), horizon, settings.efficiency)
    groups = _groups(flexes, grid, settings.max_groups)
    envelopes = [fleet_envelope([flexes[i] for i in m], horizon) for m in groups.members]
    reach = np.array([float(np.max(np.maximum(e.upper_w, -e.lower_w))) for e in envelopes])
    span = float(np.max(np.abs(factors - factors[0])))
    up = np.array([float(np.max(np.maximum(e.upper_w, 0.0))) for e in envelopes])
    down = np.array([float(np.min(np.minimum(e.lower_w, 0.0))) for e in envelopes])
    rows = grid.rows(
        groups.weights, groups.buses, up, down, float(factors[0]), span, settings.max_rows
    )
    zone_of = _zones(groups, settings.max_zones)
    zones = int(zone_of.max()) + 1
    budget = settings.horizon_row_budget // max(zones * horizon.slots, 1)
    horizon_rows = max(10, min(settings.horizon_rows, budget))
    if zones == len(envelopes):
        zone_envelopes = envelopes
        zone_rows = rows.nearest(reach, horizon_rows)
    else:
        share = np.zeros((len(envelopes), zones))
        share[np.arange(len(envelopes)), zone_of] = np.maximum(reach, 1.0)
        share /= share.sum(axis=0, keepdims=True)
        zone_envelopes = [
            fleet_envelope(
                [flexes[i] for g in np.flatnonzero(zone_of == z) for i in groups.members[g]],
                horizon,
            )
            for z in range(zones)
        ]
        zone_reach = np.array(
            [float(np.max(np.maximum(e.upper_w, -e.lower_w))) for e in zone_envelopes]
        )
        zone_rows = rows.on(share).nearest(zone_reach, horizon_rows)
    return _Problem(
        horizon,
        flexes,
        groups,
        envelopes,
        rows,
        zone_of,
        zone_envelopes,
        zone_rows,
        inputs.prices.sample(moments),
        factors,
    )


@dataclass(frozen=True)
class _Why:
    """What the plan knows about why slot 0 came out as it did."""

    planned: bool  # False: a fallback rule planned slot 0
    rows: GridRows
    binding: npt.NDArray[np.bool_]
    target: DispatchTarget
    price_now: float

    def source(self, share: Share, flex: Flexibility, group: int) -> str:
        """The limit that shaped a vehicle's power, most specific first."""
        if share.at == "upper":
            return flex.upper_source
        if share.at == "lower":
            return flex.lower_source
        if share.at == "must":
            return flex.floor_source
        if not self.planned:
            return "fallback earliest-departure-first"
        if self.rows.count and self.binding.any():
            # The binding row on which this group's power weighs most.
            pressure = np.where(self.binding, np.abs(self.rows.a[:, group]), 0.0)
            row = int(np.argmax(pressure))
            if pressure[row] > 0:
                return f"feeder: {self.rows.labels[row]}"
        if self.target.sources[0]:
            return self.target.sources[0]
        return f"cost plan (price now {self.price_now:.3f}/kWh)"


def _setpoints(
    problem: _Problem,
    shares: Sequence[Share],
    verified: Verified,
    why: _Why,
    valid_until: datetime,
) -> dict[str, Setpoint]:
    setpoints: dict[str, Setpoint] = {}
    cause = verified.cause
    for i, (flex, share) in enumerate(zip(problem.flexes, shares, strict=True)):
        power = verified.power_w[flex.evse_id]
        if abs(power - share.power_w) > 1.0:
            source = (
                f"grid AC: {cause.element} {cause.metric} (curtailed)"
                if cause
                else "grid AC (curtailed)"
            )
        else:
            source = why.source(share, flex, problem.groups.ids[i])
        setpoints[flex.evse_id] = Setpoint(power, valid_until, Limit(power, source))
    return setpoints


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
    # Issue 19: every vehicle whose needs were guessed is named, with why.
    notes: list[str] = [f"needs guessed: {f.guessed}" for f in problem.flexes if f.guessed]
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

    binding = np.zeros(problem.rows.count, dtype=bool)
    rows = problem.rows
    if allocation is not None:
        try:
            group_power, binding, rows = problem.now(allocation, settings)
        except AllocationFailed as failure:
            notes.append(f"{failure}; fell back to earliest-departure-first")
            allocation = None
    if allocation is not None:
        shares = problem.shares(group_power)
        fleet_power = allocation.power_w.sum(axis=0)
        zones = len(problem.zone_envelopes)
        strategy = "lp" if zones == len(problem.envelopes) else f"lp ({zones} zones)"
    else:
        cap = float(target.cap_w[0])
        shares = earliest_departure_first(problem.flexes, cap, horizon.slot_h)
        fleet_power = np.array([sum(s.power_w for s in shares)])
        strategy = "earliest-departure-first"

    verified: Verified = verify(
        grid,
        {s.evse_id: s.power_w for s in shares},
        {f.evse_id: f.bus for f in problem.flexes},
        base,
        near=lambda violation: problem.near(violation, rows),
    )
    if verified.violations:
        grid.calibrate(verified.violations)
    if verified.kept < 1.0:
        cause = verified.cause.element if verified.cause else "grid"
        notes.append(f"AC check disagreed ({cause}); plan curtailed to {verified.kept:.0%}")
    why = _Why(allocation is not None, rows, binding, target, float(problem.prices[0]))
    valid_until = now + timedelta(seconds=settings.setpoint_valid_s)
    return DispatchPlan(
        created_at=now,
        horizon=horizon,
        setpoints=_setpoints(problem, shares, verified, why, valid_until),
        fleet_power_w=fleet_power,
        target=target,
        baseline_w=baseline,
        envelope=fleet_envelope(problem.flexes, horizon),
        verdict=verified.verdict,
        strategy=strategy,
        notes=tuple(notes),
        grid_checks=verified.checks,
    )
