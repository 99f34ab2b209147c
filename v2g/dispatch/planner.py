"""The planner: fleet and targets in, a verified dispatch plan out (pure, ``now`` given).

    flexibility per vehicle -> groups per bus (or per LV grid) -> zones of groups
      -> [baseline LP without DR] -> DR target -> horizon LP per zone with grid rows
      -> slot-0 LP per group with every grid row (large fleets only)
      -> split slot 0 per vehicle -> one AC check (curtail if it disagrees) -> setpoints

Fleets up to ``max_groups`` vehicles are planned per vehicle. The horizon LP sees at
most ``max_zones`` zones (groups of groups) and the ``horizon_rows`` nearest grid rows;
when it saw less than that, slot 0 is solved again per group in full grid detail,
because a horizon LP with every group and every row grows as groups x rows x slots.

The LP cannot be infeasible (conflicting promises are elastic rows, see
``allocation``); if the solver itself fails, slot 0 is planned by earliest departure
first within the grid rows (``fallback``), with the same AC check. The plan says which
strategy ran, and what it had to give up, in its notes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from gridmodel import Violation
from v2g.demand_response import DemandResponseEvent, DispatchTarget, dispatch_target
from v2g.demand_response.target import event_horizon
from v2g.dispatch.allocation import (
    Allocation,
    AllocationFailed,
    IntArray,
    allocate,
    allocate_now,
)
from v2g.dispatch.curtail import Verified, verify
from v2g.dispatch.fallback import within_rows
from v2g.dispatch.grid import FloatArray, GridModel, GridRows
from v2g.dispatch.inputs import PlanInputs, PlannerSettings
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.split import Share, split
from v2g.envelope import (
    FleetEnvelope,
    FleetFlexibility,
    Flexibility,
    Horizon,
    envelope_of,
    fleet_envelope,
    fleet_flexibility,
    flexibilities,
)
from v2g.fleet import ExpectedArrival, FleetMember, expected_departure
from v2g.limits import Limit
from v2g.session import Setpoint


@dataclass(frozen=True)
class _Groups:
    """Vehicles grouped per bus (or per LV grid): the LP's unit of planning."""

    ids: list[int]  # group per vehicle
    members: list[list[int]]  # vehicle indices per group
    buses: list[int]  # distinct buses
    weights: FloatArray  # buses x groups: how a group's power spreads over its buses


def _groups(fleet: FleetFlexibility, grid: GridModel, max_groups: int) -> _Groups:
    """Each vehicle its own group while the fleet is small (exact corridors); else the
    grid's groups (per bus, or per LV grid), whose summed corridors are an outer
    approximation that the split per vehicle then has to live with."""
    flexes = fleet.vehicles
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
    size = np.max(np.maximum(fleet.upper_w, -fleet.lower_w), axis=1, initial=0.0)
    at_bus = np.array([position[f.bus] for f in flexes], dtype=np.int64)
    # Added vehicle by vehicle in fleet order (add.at is unbuffered), as a loop would.
    np.add.at(weights, (at_bus, np.asarray(ids, dtype=np.int64)), np.maximum(size, 1.0))
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
    fleet: FleetFlexibility
    groups: _Groups
    envelopes: list[FleetEnvelope]
    rows: GridRows  # per group, slot 0's operating point
    zone_of: IntArray  # zone per group
    zone_envelopes: list[FleetEnvelope]
    zone_rows: GridRows
    prices: FloatArray
    factors: FloatArray
    #: Each vehicle's power range in slot 0 (W), lows and highs.
    slot0_w: tuple[list[float], list[float]]
    #: The vehicles plugged in now come first; those after them are expected
    #: (v2g.fleet.expected): counted, never sent a setpoint.
    plugged_in: int

    @property
    def flexes(self) -> list[Flexibility]:
        return self.fleet.vehicles

    @property
    def connected(self) -> list[Flexibility]:
        """The vehicles plugged in now (those that get setpoints)."""
        return self.fleet.vehicles[: self.plugged_in]

    def slot0_ranges(self, members: Sequence[int]) -> list[tuple[float, float]]:
        lows, highs = self.slot0_w
        return [(lows[i], highs[i]) for i in members]

    #: Per zone and slot, what owners who accept a shortfall want (None: no such owner).
    wanted_wh: FloatArray | None = None
    #: Per zone, what those owners' cars gave to DR events before now (Wh).
    given_wh: FloatArray | None = None

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
            # Two hours slot by slot, then blocks of up to an hour.
            fine_slots=max(1, self.horizon.starts_before(7200.0)),
            longest_block=max(1, round(3600 / self.horizon.slot_s)),
            wanted_wh=self.wanted_wh,
            given_wh=self.given_wh,
        )

    def solve_rough(self, target: DispatchTarget, settings: PlannerSettings) -> FloatArray:
        """The fleet's net power per slot (W) from the horizon LP with two slots in
        detail and blocks of up to four hours after them: a third to a sixth of
        ``solve``'s time at 10,000 vehicles, for a plan read for its first slot."""
        allocation = allocate(
            self.zone_envelopes,
            target,
            self.prices,
            settings.efficiency,
            self.zone_rows,
            self.factors,
            settings.lp_time_limit_s,
            fine_slots=2,
            longest_block=max(1, round(4 * 3600 / self.horizon.slot_s)),
        )
        power: FloatArray = allocation.power_w.sum(axis=0)
        return power

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
            lows, highs = self.slot0_w
            members = self.groups.members
            lower = np.array([sum([lows[i] for i in m]) for m in members])
            upper = np.array([sum([highs[i] for i in m]) for m in members])
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
            shares = split(
                float(group_power_w[g]),
                vehicles,
                self.horizon.first_h,
                ranges=self.slot0_ranges(members),
            )
            by_vehicle.update(zip(members, shares, strict=True))
        return [by_vehicle[i] for i in range(self.plugged_in)]


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


def _wanted_wh(
    members: Sequence[FleetMember],
    flexes: Sequence[Flexibility],
    zone_of_vehicle: IntArray,
    zones: int,
    settings: PlannerSettings,
    horizon: Horizon,
) -> FloatArray | None:
    """Per zone and slot, the energy the owners want by then (relative to now, as an
    envelope's ``min_energy_wh``): each vehicle's floor, but for owners who accept a
    shortfall the floor their target would set. Their own floor is only their minimum
    (they opted in to leaving short when DR needs the energy), so without this the
    plan would not charge them to their target at all. None if no owner accepts one."""
    accepting = [i for i, m in enumerate(members) if m.policy.accept_shortfall]
    if not accepting:
        return None
    as_asked = [
        replace(members[i], policy=replace(members[i].policy, accept_shortfall=False))
        for i in accepting
    ]
    wanted = np.array([f.floor_wh - f.energy_wh for f in flexes])
    for i, flex in zip(
        accepting, flexibilities(as_asked, horizon, settings.efficiency), strict=True
    ):
        wanted[i] = flex.floor_wh - flex.energy_wh
    per_zone: FloatArray = np.zeros((zones, horizon.slots))
    np.add.at(per_zone, zone_of_vehicle, wanted)
    return per_zone


def _given_wh(
    members: Sequence[FleetMember], zone_of_vehicle: IntArray, zones: int
) -> FloatArray | None:
    """Per zone, the energy the cars of owners who accept a shortfall gave to DR events
    so far (their shortfall by that much stays accepted). None if none gave any."""
    given = np.array([m.given_to_dr_wh if m.policy.accept_shortfall else 0.0 for m in members])
    if not given.any():
        return None
    per_zone: FloatArray = np.zeros(zones)
    np.add.at(per_zone, zone_of_vehicle, given)
    return per_zone


def _problem(
    inputs: PlanInputs, grid: GridModel, settings: PlannerSettings, horizon: Horizon
) -> _Problem:
    moments = [horizon.slot_start(k) for k in range(horizon.slots)]
    factors = inputs.base_load.sample(moments)
    members = [*inputs.fleet, *_expected(inputs, horizon)]
    fleet = fleet_flexibility(members, horizon, settings.efficiency)
    groups = _groups(fleet, grid, settings.max_groups)
    envelopes = [
        envelope_of(fleet, np.asarray(m, dtype=np.int64), horizon) for m in groups.members
    ]
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
            envelope_of(
                fleet,
                np.array(
                    [i for g in np.flatnonzero(zone_of == z) for i in groups.members[g]],
                    dtype=np.int64,
                ),
                horizon,
            )
            for z in range(zones)
        ]
        zone_reach = np.array(
            [float(np.max(np.maximum(e.upper_w, -e.lower_w))) for e in zone_envelopes]
        )
        zone_rows = rows.on(share).nearest(zone_reach, horizon_rows)
    low0, high0 = fleet.slot0_ranges_w(horizon.first_h)
    return _Problem(
        horizon,
        fleet,
        groups,
        envelopes,
        rows,
        zone_of,
        zone_envelopes,
        zone_rows,
        inputs.prices.sample(moments),
        factors,
        (low0.tolist(), high0.tolist()),
        len(inputs.fleet),
        _wanted_wh(members, fleet.vehicles, zone_of[groups.ids], zones, settings, horizon),
        _given_wh(members, zone_of[groups.ids], zones),
    )


def _expected(inputs: PlanInputs, horizon: Horizon) -> Sequence[FleetMember]:
    """The vehicles expected, as counted from the second slot on at the earliest
    (slot 0 is under way and they are not here)."""
    earliest = horizon.slot_start(min(1, horizon.slots))
    return [e.member(earliest) for e in inputs.expected]


@dataclass(frozen=True)
class _Why:
    """What the plan knows about why slot 0 came out as it did."""

    planned: bool  # False: a fallback rule planned slot 0
    rows: GridRows
    binding: npt.NDArray[np.bool_]
    target: DispatchTarget
    price_now: float

    @functools.cached_property
    def _binding_rows(self) -> IntArray | None:
        """Per group, the binding row on which its power weighs most (-1: none)."""
        if not (self.rows.count and self.binding.any()):
            return None
        pressure = np.abs(self.rows.a[self.binding])  # binding rows x groups
        best = np.flatnonzero(self.binding)[np.argmax(pressure, axis=0)]
        best_rows: IntArray = np.where(pressure.max(axis=0) > 0, best, -1)
        return best_rows

    def binding_row(self, group: int) -> int | None:
        rows = self._binding_rows
        if rows is None or rows[group] < 0:
            return None
        return int(rows[group])

    def source(self, share: Share, flex: Flexibility, group: int) -> str:
        """The limit that shaped a vehicle's power, most specific first."""
        if share.at == "upper":
            return flex.upper_source
        if share.at == "lower":
            return flex.lower_source
        if share.at == "must":
            return flex.floor_source
        if not self.planned:
            return "fallback: earliest departure first within the grid rows"
        row = self.binding_row(group)
        if row is not None:
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
    for i, (flex, share) in enumerate(zip(problem.connected, shares, strict=True)):
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


def _horizon(inputs: PlanInputs, settings: PlannerSettings) -> Horizon:
    """From now to the latest departure of the fleet (at least ``settings.slots``
    slots, at most ``settings.max_horizon_s``): a plan that discharges now must see
    the slots in which it has to buy the energy back. Slots follow the clock and
    every DR event's start and end inside the horizon cuts one (``Horizon.aligned``):
    delivery starts and stops at the event's boundaries (issue 22)."""
    now = inputs.now
    departures = [expected_departure(member, now) for member in inputs.fleet]
    departures += [e.departs_at for e in inputs.expected]
    latest_s = max(((departure - now).total_seconds() for departure in departures), default=0.0)
    until_s = max(settings.slots * settings.slot_s, min(latest_s, settings.max_horizon_s))
    return event_horizon(now, settings.slot_s, until_s, inputs.events)


def _idle(inputs: PlanInputs, grid: GridModel, horizon: Horizon) -> DispatchPlan:
    events = inputs.events.overlapping(horizon.start, horizon.end)
    return DispatchPlan(
        created_at=inputs.now,
        horizon=horizon,
        setpoints={},
        fleet_power_w=np.zeros(horizon.slots),
        target=dispatch_target(events, horizon, None, inputs.operator_cap_w),
        baseline_w=None,
        envelope=fleet_envelope([], horizon),
        verdict=grid.check(grid.base_injections(inputs.base_load.at(inputs.now))),
        strategy="idle",
        grid_checks=1,
    )


def _given_up(problem: _Problem, allocation: Allocation, target: DispatchTarget) -> list[str]:
    """What the plan had to give up, in the order of the promises: rows the base load
    alone breaks, departures it cannot keep, DR it cannot deliver."""
    notes: list[str] = []
    horizon = problem.horizon
    for row, first in enumerate(allocation.base_broken):
        if first >= 0:
            label = problem.zone_rows.labels[row]
            if not any(label in note for note in notes):
                at = horizon.slot_start(int(first)).strftime("%H:%M")
                notes.append(
                    f"grid: base load alone breaks {label} from {at}; "
                    "EV power relieves it where it can"
                )
    rows = problem.zone_rows
    for zone, short_wh in enumerate(allocation.departure_shortfall_wh):
        if short_wh >= 100.0:
            vehicles = [
                problem.flexes[i].evse_id
                for g in np.flatnonzero(problem.zone_of == zone)
                for i in problem.groups.members[int(g)]
            ]
            who = (
                vehicles[0]
                if len(vehicles) == 1
                else f"{len(vehicles)} vehicles ({vehicles[0]}, ...)"
            )
            pressure = (
                np.where(allocation.binds_later, rows.a[:, zone], 0.0) if rows.count else None
            )
            binding = (
                rows.labels[int(np.argmax(pressure))]
                if pressure is not None and pressure.max() > 0
                else "the grid rows"
            )
            where = f"grid: {binding} leaves no room to charge it in time"
            notes.append(f"departure: {who} expected {short_wh / 1000:.1f} kWh short ({where})")
    capped = np.isfinite(target.cap_w)
    short_wh = float(np.sum(allocation.shortfall_w[capped] * horizon.hours[capped]))
    if short_wh >= 100.0:
        sources = sorted({s for s in target.sources if s})
        notes.append(
            f"DR: {short_wh / 1000:.1f} kWh of {', '.join(sources) or 'the fleet cap'} cannot be "
            "delivered without breaking a grid limit, a reserve or a departure"
        )
    return notes


def _arrival(flex: Flexibility, expected: ExpectedArrival, horizon: Horizon) -> str:
    """An expected vehicle as the plan counts it: when, and what it needs by when."""
    present = np.flatnonzero(flex.upper_w > 0)
    since = horizon.slot_start(int(present[0])) if present.size else horizon.end
    until = horizon.start + timedelta(seconds=flex.dwell_s)
    rank = "" if expected.firm else "; foreseen, so a DR event comes first"
    return (
        f"{flex.evse_id} from {since:%H:%M}, {expected.energy_wh / 1000:.1f} kWh by "
        f"{until:%H:%M} (charged only: its state of charge is unknown until it plugs in{rank})"
    )


def _alone(flexes: Sequence[Flexibility]) -> list[str]:
    """Vehicles whose target is out of reach from now even alone (power limit and the
    time left: at arrival, or after the grid held them back)."""
    notes = []
    for flex in flexes:
        if flex.laxity_s < 0 and np.isfinite(flex.dwell_s):
            notes.append(
                f"departure: {flex.evse_id} can no longer reach its target by departure, "
                f"even alone at full power ({-flex.laxity_s / 60:.0f} min short); "
                "charged as far as it goes"
            )
    return notes


def _baseline(
    problem: _Problem,
    events: Sequence[DemandResponseEvent],
    inputs: PlanInputs,
    settings: PlannerSettings,
) -> FloatArray | None:
    """The fleet's plan without DR events (W per slot), or None when nothing needs it.

    A target that needs it (``shed_w``, ``import_limit_w``) gets the full plan per
    zone. An event of any kind active now needs it for M&V and the VTN's baseline
    telemetry (issue 22); where only that asks (export events, whose M&V counts the
    discharge itself and reads the baseline only for telemetry), a large fleet
    (planned per bus group, not per vehicle) gets it from a rougher LP in time
    (``solve_rough``). An export event that has not started yet needs no baseline."""
    targeted = any(e.kind != "export_w" for e in events)
    if not (targeted or any(e.active_at(inputs.now) for e in events)):
        return None
    without = dispatch_target((), problem.horizon, None, inputs.operator_cap_w)
    if targeted or len(problem.envelopes) == len(problem.flexes):
        power: FloatArray = problem.solve(without, settings).power_w.sum(axis=0)
        return power
    return problem.solve_rough(without, settings)


def plan_dispatch(
    inputs: PlanInputs, grid: GridModel, settings: PlannerSettings | None = None
) -> DispatchPlan:
    """The plan for ``inputs`` (see the module docstring). Pure: ``grid`` is only read;
    AC checks that disagreed with the linear rows come back in ``plan.disagreements``
    for the caller to learn from."""
    settings = settings or PlannerSettings()
    now = inputs.now
    # Only the bookings whose car is still to come count (decided once per plan).
    inputs = replace(
        inputs, expected=tuple(e for e in inputs.expected if e.pending(inputs.fleet, now))
    )
    horizon = _horizon(inputs, settings)
    if not len(inputs.fleet) and not inputs.expected:
        return _idle(inputs, grid, horizon)
    base = grid.base_injections(inputs.base_load.at(now))
    events = inputs.events.overlapping(horizon.start, horizon.end)
    problem = _problem(inputs, grid, settings, horizon)
    # Every vehicle whose needs were guessed is named, with why (issue 19).
    notes = [f"needs guessed: {f.guessed}" for f in problem.flexes if f.guessed]
    notes += _alone(problem.flexes)
    expected = problem.flexes[problem.plugged_in :]
    notes += [
        f"expected: {_arrival(flex, arrival, horizon)}"
        for flex, arrival in zip(expected, inputs.expected, strict=True)
    ]
    allocation: Allocation | None = None
    baseline: FloatArray | None = None
    target = dispatch_target(events, horizon, None, inputs.operator_cap_w)
    try:
        baseline = _baseline(problem, events, inputs, settings)
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        allocation = problem.solve(target, settings)
        notes += _given_up(problem, allocation, target)
        group_power, binding, rows = problem.now(allocation, settings)
    except AllocationFailed as failure:
        notes.append(f"{failure}; slot 0 planned by earliest departure first within the grid rows")
        allocation = None
    if allocation is not None:
        shares = problem.shares(group_power)
        fleet_power = allocation.power_w.sum(axis=0)
        zones = len(problem.zone_envelopes)
        strategy = "lp" if zones == len(problem.envelopes) else f"lp ({zones} zones)"
    else:
        rows, binding = problem.rows, np.zeros(problem.rows.count, dtype=bool)
        shares = within_rows(
            problem.connected,
            problem.groups.ids[: problem.plugged_in],
            rows,
            float(target.cap_w[0]),
            horizon.first_h,
        )
        fleet_power = np.array([sum(s.power_w for s in shares)])
        strategy = "fallback within grid rows"

    verified: Verified = verify(
        grid,
        {s.evse_id: s.power_w for s in shares},
        {f.evse_id: f.bus for f in problem.flexes},
        base,
        near=lambda violation: problem.near(violation, rows),
    )
    if verified.kept < 1.0:
        cause = verified.cause.element if verified.cause else "grid"
        notes.append(f"AC check disagreed ({cause}); plan curtailed to {verified.kept:.0%}")
    if verified.verdict is not None and not verified.verdict.ok:
        notes.append(
            "grid: even without EV power the feeder breaks a limit now; EV power held at 0"
        )
    why = _Why(allocation is not None, rows, binding, target, float(problem.prices[0]))
    valid_until = now + timedelta(seconds=settings.setpoint_valid_s)
    return DispatchPlan(
        created_at=now,
        horizon=horizon,
        setpoints=_setpoints(problem, shares, verified, why, valid_until),
        fleet_power_w=fleet_power,
        target=target,
        baseline_w=baseline,
        envelope=envelope_of(problem.fleet, np.arange(len(problem.flexes)), horizon),
        verdict=verified.verdict,
        strategy=strategy,
        notes=tuple(notes),
        grid_checks=verified.checks,
        disagreements=verified.violations,
    )
