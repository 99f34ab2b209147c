"""The reference optimum: one whole-horizon LP over every vehicle and slot, with grid
rows from finite differences of pandapower flows, replayed in pandapower and tightened
where the replay disagrees.

Independent of the planner's code path on purpose: no v2g.dispatch, no v2g.envelope,
no gridmodel linearisation. gridmodel only loads the network.

Priorities as penalties (EUR per Wh), so the LP is never infeasible and the order
holds: grid rows are hard (their right-hand side never below the base case's own
value, so zero vehicle power is always feasible) > departure energy (0.1 EUR/Wh
short) and the reserve (a hard floor) > DR (0.01 EUR/Wh undelivered) > an owner's
accepted shortfall (0.002 EUR/Wh) > price (day-ahead, below 0.001 EUR/Wh).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gridmodel import Network
from tests.oracle.metrics import (
    CHARGE_EFFICIENCY,
    DISCHARGE_EFFICIENCY,
    departs,
    export_asked_w,
    present,
    slot_times,
    stored_wh,
)
from tests.oracle.replay import AcReplay
from v2g.simulation.scenario import Scenario

DEPARTURE_PENALTY = 0.1
DR_VALUE = 0.01
SHORTFALL_ACCEPTED_PENALTY = 0.002
#: Discourages charging and discharging for nothing (and both at once at negative prices).
CYCLING_PENALTY = 1e-6
#: Rows keep this far inside the limits (loading points, pu) before any tightening.
LOADING_MARGIN = 0.5
VOLTAGE_MARGIN = 0.002
#: Base-load levels at which sensitivities are taken (each slot uses the nearest).
LEVELS = 3
#: Grid rows kept per slot, direction and kind (line, trafo, undervoltage,
#: overvoltage): those the fleet could overrun the most (reach over room), plus every
#: element a replay found violated in any slot. The rest are left to the replay, which
#: adds them when they turn out to bind. Per kind, because hundreds of nearly equal
#: voltage rows along one feeder would otherwise crowd out its few line rows.
ROWS_PER_KIND = 12


@dataclass(frozen=True)
class Sensitivity:
    """d(loading %, vm pu)/dW per vehicle bus at one base-load level, for more load
    (``up``) and for more injection (``down``): secants over the bus's full swing."""

    factor: float
    up: np.ndarray  # (elements, buses)
    down: np.ndarray


@dataclass
class OracleResult:
    schedule_w: dict[str, np.ndarray]
    status: str
    rounds: int
    rows: int
    objective: float
    notes: list[str] = field(default_factory=list)


def _element_values(flow: Any, replay: AcReplay) -> np.ndarray:
    """Loading of lines and trafos (%), and voltages (pu), as one vector."""
    return np.concatenate([flow.line_percent, flow.trafo_percent, flow.vm_pu, flow.vm_pu])


def _limits(replay: AcReplay) -> tuple[np.ndarray, np.ndarray]:
    """(sign, limit) per element row: sign * value <= sign * limit."""
    lim = replay.limits
    lines, trafos, buses = replay.element_names()
    sign = np.concatenate(
        [np.ones(len(lines) + len(trafos)), -np.ones(len(buses)), np.ones(len(buses))]
    )
    limit = np.concatenate(
        [
            np.full(len(lines), lim.max_line_loading_percent - LOADING_MARGIN),
            np.full(len(trafos), lim.max_trafo_loading_percent - LOADING_MARGIN),
            np.full(len(buses), lim.vm_pu_min + VOLTAGE_MARGIN),
            np.full(len(buses), lim.vm_pu_max - VOLTAGE_MARGIN),
        ]
    )
    return sign, limit


def _kinds(replay: AcReplay) -> np.ndarray:
    lines, trafos, buses = replay.element_names()
    sizes = [len(lines), len(trafos), len(buses), len(buses)]
    return np.repeat(np.arange(4), sizes)


def sensitivities(replay: AcReplay, factor: float, swing_w: np.ndarray) -> Sensitivity:
    """Finite differences of pandapower flows: each vehicle bus alone moved by its
    swing (the fleet's power there), up and down."""
    base = _element_values(replay.base(factor), replay)
    up = np.zeros((base.size, len(replay.buses)))
    down = np.zeros_like(up)
    for k, swing in enumerate(swing_w):
        for sign, target in ((1.0, up), (-1.0, down)):
            step = max(float(swing), 1000.0)
            # A swing the network cannot carry does not converge: halve it until it does.
            for _ in range(8):
                delta = np.zeros(len(replay.buses))
                delta[k] = sign * step
                flow = replay.flow(factor, delta)
                if flow.converged:
                    target[:, k] = (_element_values(flow, replay) - base) / (sign * step)
                    break
                step /= 2
    return Sensitivity(factor, np.nan_to_num(up), np.nan_to_num(down))


class _Layout:
    """Column indices of the LP: per vehicle and present slot c (charge W), d
    (discharge W), e (energy Wh after the slot); per slot and bus p (bus power W) and
    per slot delta (DR export delivered W); per vehicle s (shortfall Wh)."""

    def __init__(self, scenario: Scenario, times: list[Any], buses: int) -> None:
        self.n = 0
        self.c: dict[tuple[int, int], int] = {}
        self.d: dict[tuple[int, int], int] = {}
        self.e: dict[tuple[int, int], int] = {}
        self.slots: list[np.ndarray] = []
        for i, vehicle in enumerate(scenario.vehicles):
            on = np.flatnonzero(present(vehicle, times))
            self.slots.append(on)
            for t in on:
                self.c[i, t] = self._new()
                if vehicle.v2g and vehicle.max_discharge_w > 0:
                    self.d[i, t] = self._new()
                self.e[i, t] = self._new()
        self.slot_count, self.bus_count = len(times), buses
        self.p = {(t, b): self._new() for t in range(len(times)) for b in range(buses)}
        self.delta = {t: self._new() for t in range(len(times))}
        self.s = {i: self._new() for i in range(len(scenario.vehicles))}

    def _new(self) -> int:
        self.n += 1
        return self.n - 1

    def schedule(self, scenario: Scenario, x: np.ndarray) -> dict[str, np.ndarray]:
        """W per vehicle and slot (+ = charging) from a solution."""
        result = {}
        for i, vehicle in enumerate(scenario.vehicles):
            power = np.zeros(self.slot_count)
            for t in self.slots[i]:
                power[t] = x[self.c[i, t]] - (x[self.d[i, t]] if (i, t) in self.d else 0.0)
            result[vehicle.id] = power
        return result

    def bus_power(self, x: np.ndarray) -> np.ndarray:
        return np.array(
            [[x[self.p[t, b]] for b in range(self.bus_count)] for t in range(self.slot_count)]
        )


Rows = list[tuple[dict[int, float], float]]


@dataclass
class _Program:
    """The LP without its grid rows: objective (EUR), bounds and rows."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    eq_rows: Rows = field(default_factory=list)
    ub_rows: Rows = field(default_factory=list)


@dataclass
class _Grid:
    """What the grid rows are built from, and what the replay rounds change."""

    sens: list[Sensitivity]
    nearest: np.ndarray
    base_values: np.ndarray
    sign: np.ndarray
    limit: np.ndarray
    tighten: np.ndarray
    share: np.ndarray
    watched: np.ndarray  # rows a replay found violated in some slot
    kinds: np.ndarray  # 0 line, 1 trafo, 2 undervoltage, 3 overvoltage, per row
    charge_box: np.ndarray
    discharge_box: np.ndarray


def _vehicle_rows(
    program: _Program, layout: _Layout, scenario: Scenario, accepts: dict[str, bool]
) -> None:
    """Energy balance, power and energy bounds, and the departure goal (elastic)."""
    times = slot_times(scenario)
    hours = scenario.step_s / 3600
    prices = np.array([scenario.prices.at(t) for t in times])
    cost, lower, upper = program.cost, program.lower, program.upper
    for i, vehicle in enumerate(scenario.vehicles):
        arrival_wh = vehicle.capacity_wh * vehicle.soc_arrival_percent / 100
        floor = min(vehicle.capacity_wh * vehicle.soc_reserve_percent / 100, arrival_wh)
        previous: int | None = None
        for t in layout.slots[i]:
            c, e = layout.c[i, t], layout.e[i, t]
            upper[c] = vehicle.max_charge_w
            cost[c] = prices[t] * hours / 1000 + CYCLING_PENALTY * hours
            lower[e], upper[e] = floor, vehicle.capacity_wh
            row = {e: 1.0, c: -CHARGE_EFFICIENCY * hours}
            if (i, t) in layout.d:
                d = layout.d[i, t]
                upper[d] = vehicle.max_discharge_w
                cost[d] = -prices[t] * hours / 1000 + CYCLING_PENALTY * hours
                row[d] = hours / DISCHARGE_EFFICIENCY
            if previous is not None:
                row[previous] = -1.0
            program.eq_rows.append((row, arrival_wh if previous is None else 0.0))
            previous = e
        if previous is None or not departs(vehicle, times):
            upper[layout.s[i]] = 0.0
            continue
        # docs/scenario.md: the target, or the most its dwell and power allow.
        reach = arrival_wh + vehicle.max_charge_w * CHARGE_EFFICIENCY * hours * len(
            layout.slots[i]
        )
        goal = min(vehicle.capacity_wh * vehicle.soc_target_percent / 100, reach)
        s = layout.s[i]
        cost[s] = SHORTFALL_ACCEPTED_PENALTY if accepts[vehicle.id] else DEPARTURE_PENALTY
        program.ub_rows.append(({previous: -1.0, s: -1.0}, -goal))


def _bus_rows(
    program: _Program, layout: _Layout, scenario: Scenario, column: dict[str, int]
) -> None:
    """p[t, b] = the sum of (c - d) of the vehicles at bus b."""
    members: dict[tuple[int, int], list[int]] = {}
    for i, vehicle in enumerate(scenario.vehicles):
        for t in layout.slots[i]:
            members.setdefault((t, column[vehicle.id]), []).append(i)
    for (t, b), col in layout.p.items():
        program.lower[col] = -np.inf
        row = {col: 1.0}
        for i in members.get((t, b), []):
            row[layout.c[i, t]] = -1.0
            if (i, t) in layout.d:
                row[layout.d[i, t]] = 1.0
        program.eq_rows.append((row, 0.0))


def _dr_rows(program: _Program, layout: _Layout, scenario: Scenario, buses: int) -> None:
    """delta[t] <= asked[t] and delta[t] <= -(the fleet's net power). delta is free
    below: charging during an event (when a departure needs it) costs DR_VALUE per Wh,
    a linear stand-in for the measure's max(0, export) that keeps the order intact."""
    asked = export_asked_w(scenario, slot_times(scenario))
    hours = scenario.step_s / 3600
    for t, col in layout.delta.items():
        program.upper[col] = asked[t]
        if asked[t] > 0:
            program.lower[col] = -np.inf
            program.cost[col] = -DR_VALUE * hours
            row = {col: 1.0} | {layout.p[t, b]: 1.0 for b in range(buses)}
            program.ub_rows.append((row, 0.0))


def _grid(scenario: Scenario, layout: _Layout, replay: AcReplay, column: dict[str, int]) -> _Grid:
    """Sensitivities at a few base-load levels and the base case of every slot."""
    times = slot_times(scenario)
    factors = np.array([scenario.base_load.at(t) for t in times])
    # Fleet power that could sit at each bus in each slot (W): the box the rows must hold.
    charge_box = np.zeros((len(times), len(replay.buses)))
    discharge_box = np.zeros_like(charge_box)
    for i, vehicle in enumerate(scenario.vehicles):
        charge_box[layout.slots[i], column[vehicle.id]] += vehicle.max_charge_w
        if vehicle.v2g:
            discharge_box[layout.slots[i], column[vehicle.id]] += vehicle.max_discharge_w
    levels = np.unique(np.quantile(factors, np.linspace(0, 1, LEVELS)).round(3))
    swing = np.maximum(charge_box.max(axis=0), discharge_box.max(axis=0))
    sign, limit = _limits(replay)
    base_values = np.array(
        [
            _element_values(flow, replay) if flow.converged else np.full(limit.size, np.nan)
            for flow in (replay.base(float(f)) for f in factors)
        ]
    )
    return _Grid(
        sens=[sensitivities(replay, float(f), swing) for f in levels],
        nearest=np.abs(factors[:, None] - levels[None, :]).argmin(axis=1),
        base_values=base_values,
        sign=sign,
        limit=limit,
        tighten=np.zeros((len(times), limit.size)),
        # Room kept per slot (1 = all of it); shrinks where the replay did not converge.
        share=np.ones(len(times)),
        watched=np.zeros(limit.size, dtype=bool),
        kinds=_kinds(replay),
        charge_box=charge_box,
        discharge_box=discharge_box,
    )


def solve(
    scenario: Scenario,
    raw: dict[str, Any],
    network: Network,
    bus_of: dict[str, int],
    replay: AcReplay | None = None,
    rounds: int = 6,
) -> OracleResult:
    """The reference schedule of ``scenario`` (``raw``: its JSON dict, for the owners'
    ``accepts_shortfall``), replayed and tightened at most ``rounds`` times."""
    replay = replay or AcReplay(network, sorted(set(bus_of.values())))
    position = {b: k for k, b in enumerate(replay.buses)}
    column = {vehicle_id: position[bus] for vehicle_id, bus in bus_of.items()}
    times = slot_times(scenario)
    layout = _Layout(scenario, times, len(replay.buses))
    program = _Program(np.zeros(layout.n), np.zeros(layout.n), np.full(layout.n, np.inf))
    accepts = {v["id"]: bool(v.get("accepts_shortfall", False)) for v in raw["vehicles"]}
    _vehicle_rows(program, layout, scenario, accepts)
    _bus_rows(program, layout, scenario, column)
    _dr_rows(program, layout, scenario, len(replay.buses))
    grid = _grid(scenario, layout, replay, column)
    factors = [scenario.base_load.at(t) for t in times]
    result = OracleResult({}, "not solved", 0, 0, 0.0)
    for round_ in range(rounds + 1):
        grid_rows = _grid_rows(layout, grid)
        solution = _solve_holding_reserves(layout, program, grid_rows, scenario)
        if solution is None:
            result.status = "solver failed"
            return result
        result = OracleResult(
            layout.schedule(scenario, solution),
            "optimal",
            round_,
            len(grid_rows),
            float(program.cost @ solution),
            result.notes,
        )
        verdict = replay.replay(factors, layout.bus_power(solution))
        if verdict.count == 0:
            return result
        for violation in verdict.violations:
            offset = _row_offset(replay, violation.kind, violation.index)
            margin = LOADING_MARGIN if violation.kind < 2 else VOLTAGE_MARGIN
            # Twice the excess: the secant rows underrate curvature near the limit.
            grid.tighten[violation.slot, offset] += 2 * violation.excess + margin
            grid.watched[offset] = True
        for slot in verdict.not_converged_slots:
            grid.share[slot] *= 0.7
        result.notes.append(f"round {round_}: {verdict.count} violations on replay")
    result.status = "violations remain"
    return result


def _solve_holding_reserves(
    layout: _Layout, program: _Program, grid_rows: Rows, scenario: Scenario
) -> np.ndarray | None:
    """The LP's solution with every owner's reserve kept: a vehicle that arrives below
    its reserve may not be discharged until it is above it (docs/scenario.md: "never
    discharged below this"). That rule is not convex, and the LP's floor is only
    min(reserve, arrival); so where the solution discharges such a vehicle below its
    reserve, the vehicle is held to the LP's own switch: no discharge before it, the
    reserve as the floor from it on (``_hold_reserve``), and the LP solved again. If
    that is infeasible (the grid leaves no room to charge it up in time), those
    vehicles are not discharged at all."""
    solution = _linprog(layout.n, program, grid_rows)
    if solution is None:
        return None
    leaks = _reserve_leaks(layout, scenario, solution)
    if not leaks:
        return solution
    saved = program.lower.copy(), program.upper.copy()
    for i, first in leaks.items():
        _hold_reserve(program, layout, scenario, i, first)
    held = _linprog(layout.n, program, grid_rows)
    if held is not None:
        return held
    program.lower[:], program.upper[:] = saved
    for i in leaks:
        _hold_reserve(program, layout, scenario, i, len(layout.slots[i]))
    return _linprog(layout.n, program, grid_rows)


def _reserve_wh(vehicle: Any) -> float:
    return float(vehicle.capacity_wh * vehicle.soc_reserve_percent / 100)


def _reserve_leaks(layout: _Layout, scenario: Scenario, x: np.ndarray) -> dict[int, int]:
    """Vehicle -> position (among its present slots) of its first discharge, for the
    vehicles ``x`` discharges while they are below their reserve."""
    leaks = {}
    for i, vehicle in enumerate(scenario.vehicles):
        reserve = _reserve_wh(vehicle)
        slots = layout.slots[i]
        discharges = [
            p for p, t in enumerate(slots) if (i, t) in layout.d and x[layout.d[i, t]] > 1.0
        ]
        below = [p for p in discharges if x[layout.e[i, slots[p]]] < reserve - 1.0]
        if below:
            leaks[i] = discharges[0]
    return leaks


def _hold_reserve(
    program: _Program, layout: _Layout, scenario: Scenario, i: int, first: int
) -> None:
    """Vehicle ``i`` discharges from its ``first`` present slot on at the earliest and
    stays above its reserve from the slot before; if it cannot reach its reserve by
    then at full power, it is not discharged at all."""
    vehicle = scenario.vehicles[i]
    reserve = _reserve_wh(vehicle)
    arrival = vehicle.capacity_wh * vehicle.soc_arrival_percent / 100
    per_slot = vehicle.max_charge_w * CHARGE_EFFICIENCY * scenario.step_s / 3600
    reach = int(np.ceil((reserve - arrival) / per_slot)) if per_slot > 0 else 10**9
    slots = layout.slots[i]
    # Not up to its reserve by the LP's own switch: charging it up later would only be
    # forced into the slots the LP wanted to discharge in; no discharge at all then.
    start = first if reach <= first else len(slots)
    for p, t in enumerate(slots):
        if p < start and (i, t) in layout.d:
            program.upper[layout.d[i, t]] = 0.0
        if p >= start - 1 and start < len(slots):
            program.lower[layout.e[i, t]] = max(program.lower[layout.e[i, t]], reserve)


def _row_offset(replay: AcReplay, kind: int, index: int) -> int:
    lines, trafos, buses = replay.element_names()
    return [0, len(lines), len(lines) + len(trafos), len(lines) + len(trafos) + len(buses)][
        kind
    ] + index


def _grid_rows(layout: _Layout, grid: _Grid) -> Rows:
    """sign * (value0 + S p) <= max(sign * limit - tighten, sign * value0) per slot,
    element and direction (up, down), kept where the box of bus powers could reach
    the limit (at most ROWS_PER_KIND of each kind, plus every watched row)."""
    rows: Rows = []
    sign = grid.sign
    for t in range(grid.base_values.shape[0]):
        charge, discharge = grid.charge_box[t], grid.discharge_box[t]
        if not charge.any() and not discharge.any():
            continue
        value0 = np.nan_to_num(grid.base_values[t], nan=0.0)
        room = grid.share[t] * np.maximum(sign * grid.limit - grid.tighten[t] - sign * value0, 0.0)
        sens = grid.sens[grid.nearest[t]]
        for matrix in (sens.up, sens.down):
            slope = sign[:, None] * matrix
            reach = np.maximum(slope * charge, -slope * discharge).sum(axis=1)
            forced = grid.watched | (grid.tighten[t] > 0) | (grid.share[t] < 1)
            for r in _strongest(reach, room, forced, grid.kinds):
                entries = {layout.p[t, b]: float(slope[r, b]) for b in np.flatnonzero(slope[r])}
                if entries:
                    rows.append((entries, float(room[r])))
    return rows


def _strongest(
    reach: np.ndarray, room: np.ndarray, forced: np.ndarray, kinds: np.ndarray
) -> list[int]:
    """Rows the fleet could overrun the most, ROWS_PER_KIND per kind, and every forced one."""
    chosen: list[int] = []
    for kind in np.unique(kinds):
        candidates = np.flatnonzero((kinds == kind) & ((reach > room) | forced))
        ratio = reach[candidates] / np.maximum(room[candidates], 1e-9)
        ratio[forced[candidates]] = np.inf
        chosen += [int(r) for r in candidates[np.argsort(-ratio)[:ROWS_PER_KIND]]]
        chosen += [int(r) for r in candidates[forced[candidates]]]
    return sorted(set(chosen))


def _linprog(n: int, program: _Program, grid_rows: Rows) -> np.ndarray | None:
    def matrix(rows: Rows) -> tuple[Any, np.ndarray]:
        data, ri, ci = [], [], []
        for r, (entries, _) in enumerate(rows):
            for col, value in entries.items():
                ri.append(r)
                ci.append(col)
                data.append(value)
        a = sp.csr_matrix((data, (ri, ci)), shape=(len(rows), n))
        return a, np.array([rhs for _, rhs in rows])

    a_eq, b_eq = matrix(program.eq_rows)
    ub_rows = program.ub_rows + grid_rows
    a_ub, b_ub = matrix(ub_rows) if ub_rows else (None, None)
    answer = linprog(
        program.cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([program.lower, program.upper]),
        method="highs",
    )
    return answer.x if answer.status == 0 else None


#: Re-solves of one step at most when its slot breaks a limit on the replay.
STEP_ROUNDS = 3


def solve_informed(
    scenario: Scenario,
    raw: dict[str, Any],
    network: Network,
    bus_of: dict[str, int],
    replay: AcReplay | None = None,
) -> OracleResult:
    """The oracle given the planner's information (a receding horizon): at each step
    it knows the vehicles that have arrived (each one's needs from its arrival), and
    every price, event and base-load value as the planner does; it solves the rest of
    the day as ``solve`` would, keeps the first step, and solves again at the next. A
    step whose slot breaks a limit on the replay is solved again with that row
    tightened (at most STEP_ROUNDS times). What ``solve`` knows more is when the later
    vehicles come and what they need: the gap between the two columns is what that
    foresight is worth, not something a real-time planner could earn."""
    replay = replay or AcReplay(network, sorted(set(bus_of.values())))
    position = {b: k for k, b in enumerate(replay.buses)}
    column = {vehicle_id: position[bus] for vehicle_id, bus in bus_of.items()}
    times = slot_times(scenario)
    whole = _Layout(scenario, times, len(replay.buses))
    grid = _grid(scenario, whole, replay, column)
    accepts = {v["id"]: bool(v.get("accepts_shortfall", False)) for v in raw["vehicles"]}
    hours = scenario.step_s / 3600
    energy = {v.id: v.capacity_wh * v.soc_arrival_percent / 100 for v in scenario.vehicles}
    schedule = {v.id: np.zeros(len(times)) for v in scenario.vehicles}
    result = OracleResult(schedule, "optimal", 0, 0, 0.0)
    for t, now in enumerate(times):
        here = [v for v in scenario.vehicles if v.arrival <= now < v.departure]
        if not here:
            continue
        sub = replace(
            scenario,
            start=now,
            vehicles=tuple(
                replace(v, arrival=now, soc_arrival_percent=100 * energy[v.id] / v.capacity_wh)
                for v in here
            ),
        )
        power = _informed_step(sub, t, grid, replay, column, accepts, result)
        if power is None:
            result.status = "solver failed"
            return result
        for vehicle in here:
            applied = _applied_w(vehicle, energy[vehicle.id], power[vehicle.id], hours)
            schedule[vehicle.id][t] = applied
            energy[vehicle.id] += stored_wh(applied, hours)
    return result


def _informed_step(
    sub: Scenario,
    t: int,
    grid: _Grid,
    replay: AcReplay,
    column: dict[str, int],
    accepts: dict[str, bool],
    result: OracleResult,
) -> dict[str, float] | None:
    """Slot ``t``'s power per present vehicle, from the LP of ``sub`` (the scenario from
    step ``t`` on, with the vehicles known then)."""
    sub_times = slot_times(sub)
    layout = _Layout(sub, sub_times, len(replay.buses))
    program = _Program(np.zeros(layout.n), np.zeros(layout.n), np.full(layout.n, np.inf))
    _vehicle_rows(program, layout, sub, accepts)
    _bus_rows(program, layout, sub, column)
    _dr_rows(program, layout, sub, len(replay.buses))
    factor = sub.base_load.at(sub.start)
    for round_ in range(STEP_ROUNDS + 1):
        local = _sub_grid(grid, t, sub, layout, column)
        grid_rows = _grid_rows(layout, local)
        solution = _solve_holding_reserves(layout, program, grid_rows, sub)
        if solution is None:
            return None
        result.rows = max(result.rows, len(grid_rows))
        bus_power = layout.bus_power(solution)[:1]
        verdict = replay.replay([factor], bus_power)
        if verdict.count == 0 or round_ == STEP_ROUNDS:
            if verdict.count:
                result.notes.append(f"step {t}: {verdict.count} violations left on replay")
            schedule = layout.schedule(sub, solution)
            return {vehicle_id: float(power[0]) for vehicle_id, power in schedule.items()}
        for violation in verdict.violations:
            offset = _row_offset(replay, violation.kind, violation.index)
            margin = LOADING_MARGIN if violation.kind < 2 else VOLTAGE_MARGIN
            grid.tighten[t, offset] += 2 * violation.excess + margin
            grid.watched[offset] = True
        if verdict.not_converged_slots:
            grid.share[t] *= 0.7
        result.rounds += 1
    return None


def _sub_grid(
    grid: _Grid, t: int, sub: Scenario, layout: _Layout, column: dict[str, int]
) -> _Grid:
    """``grid`` from slot ``t`` on, with the box of the vehicles known at ``t``."""
    charge_box = np.zeros((layout.slot_count, grid.charge_box.shape[1]))
    discharge_box = np.zeros_like(charge_box)
    for i, vehicle in enumerate(sub.vehicles):
        charge_box[layout.slots[i], column[vehicle.id]] += vehicle.max_charge_w
        if vehicle.v2g:
            discharge_box[layout.slots[i], column[vehicle.id]] += vehicle.max_discharge_w
    return replace(
        grid,
        nearest=grid.nearest[t:],
        base_values=grid.base_values[t:],
        tighten=grid.tighten[t:],
        share=grid.share[t:],
        charge_box=charge_box,
        discharge_box=discharge_box,
    )


def _applied_w(vehicle: Any, energy_wh: float, power_w: float, hours: float) -> float:
    """``power_w`` as the simulated battery takes it (the measure's clamps)."""
    power = min(
        max(power_w, -vehicle.max_discharge_w if vehicle.v2g else 0.0), vehicle.max_charge_w
    )
    if energy_wh + stored_wh(power, hours) > vehicle.capacity_wh:
        return max(0.0, (vehicle.capacity_wh - energy_wh) / hours / CHARGE_EFFICIENCY)
    if energy_wh + stored_wh(power, hours) < 0:
        return -energy_wh / hours * DISCHARGE_EFFICIENCY
    return power
