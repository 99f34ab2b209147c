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

from dataclasses import dataclass, field
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
#: Grid rows kept per slot and direction: those the fleet could overrun the most
#: (reach over room), plus every row a replay found violated. The rest are left to
#: the replay, which adds them when they turn out to bind.
ROWS_PER_SLOT = 40


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

    def __init__(self, scenario: Scenario, times: list[Any], buses: list[int], bus_of: dict[str, int]):
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
        self.p = {(t, b): self._new() for t in range(len(times)) for b in range(len(buses))}
        self.delta = {t: self._new() for t in range(len(times))}
        self.s = {i: self._new() for i in range(len(scenario.vehicles))}

    def _new(self) -> int:
        self.n += 1
        return self.n - 1


def solve(
    scenario: Scenario,
    raw: dict[str, Any],
    network: Network,
    bus_of: dict[str, int],
    replay: AcReplay | None = None,
    rounds: int = 4,
) -> OracleResult:
    """The reference schedule of ``scenario`` (``raw``: its JSON dict, for the owners'
    ``accepts_shortfall``), replayed and tightened at most ``rounds`` times."""
    buses = sorted(set(bus_of.values()))
    replay = replay or AcReplay(network, buses)
    times = slot_times(scenario)
    hours = scenario.step_s / 3600
    layout = _Layout(scenario, times, buses, bus_of)
    column = {b: k for k, b in enumerate(buses)}
    factors = np.array([scenario.base_load.at(t) for t in times])
    accepts = {v["id"]: bool(v.get("accepts_shortfall", False)) for v in raw["vehicles"]}

    # Fleet power that could sit at each bus in each slot (W): the box the rows must hold.
    charge_box = np.zeros((len(times), len(buses)))
    discharge_box = np.zeros_like(charge_box)
    for i, vehicle in enumerate(scenario.vehicles):
        k = column[bus_of[vehicle.id]]
        charge_box[layout.slots[i], k] += vehicle.max_charge_w
        if vehicle.v2g:
            discharge_box[layout.slots[i], k] += vehicle.max_discharge_w
    levels = np.unique(np.quantile(factors, np.linspace(0, 1, LEVELS)).round(3))
    swing = np.maximum(charge_box.max(axis=0), discharge_box.max(axis=0))
    sens = [sensitivities(replay, float(f), swing) for f in levels]
    nearest = np.abs(factors[:, None] - levels[None, :]).argmin(axis=1)
    sign, limit = _limits(replay)
    tighten = np.zeros((len(times), limit.size))
    # Room kept per slot (1 = all of it); shrinks where the replay did not converge.
    share = np.ones(len(times))

    cost = np.zeros(layout.n)
    lower = np.zeros(layout.n)
    upper = np.full(layout.n, np.inf)
    eq_rows: list[tuple[dict[int, float], float]] = []
    ub_rows: list[tuple[dict[int, float], float]] = []
    prices = np.array([scenario.prices.at(t) for t in times])
    asked = export_asked_w(scenario, times)
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
            if previous is None:
                eq_rows.append((row, arrival_wh))
            else:
                row[previous] = -1.0
                eq_rows.append((row, 0.0))
            previous = e
        if previous is not None and departs(vehicle, times):
            target = vehicle.capacity_wh * vehicle.soc_target_percent / 100
            reach = min(
                vehicle.capacity_wh,
                arrival_wh + vehicle.max_charge_w * CHARGE_EFFICIENCY * hours * len(layout.slots[i]),
            )
            goal = min(target, reach)
            s = layout.s[i]
            cost[s] = SHORTFALL_ACCEPTED_PENALTY if accepts[vehicle.id] else DEPARTURE_PENALTY
            ub_rows.append(({previous: -1.0, s: -1.0}, -goal))
        else:
            upper[layout.s[i]] = 0.0
    # Bus powers: p[t, b] = sum of (c - d) of the vehicles there.
    members: dict[tuple[int, int], list[int]] = {}
    for i, vehicle in enumerate(scenario.vehicles):
        for t in layout.slots[i]:
            members.setdefault((t, column[bus_of[vehicle.id]]), []).append(i)
    for (t, b), col in layout.p.items():
        lower[col] = -np.inf
        row = {col: 1.0}
        for i in members.get((t, b), []):
            row[layout.c[i, t]] = -1.0
            if (i, t) in layout.d:
                row[layout.d[i, t]] = 1.0
        eq_rows.append((row, 0.0))
    # DR: delta[t] <= asked[t] and delta[t] <= -(sum of bus powers). delta is free
    # below: charging during an event (when a departure needs it) costs DR_VALUE per Wh,
    # a linear stand-in for the measure's max(0, export) that keeps the order intact.
    for t, col in layout.delta.items():
        upper[col] = asked[t]
        if asked[t] > 0:
            lower[col] = -np.inf
            cost[col] = -DR_VALUE * hours
            row = {col: 1.0} | {layout.p[t, b]: 1.0 for b in range(len(buses))}
            ub_rows.append((row, 0.0))

    size = limit.size
    base_values = np.array(
        [
            _element_values(flow, replay) if flow.converged else np.full(size, np.nan)
            for flow in (replay.base(float(f)) for f in factors)
        ]
    )
    result = OracleResult({}, "not solved", 0, 0, 0.0)
    for round_ in range(rounds + 1):
        grid_rows = _grid_rows(
            layout, sens, nearest, base_values, sign, limit, tighten, share, charge_box,
            discharge_box,
        )
        solution = _linprog(layout.n, cost, lower, upper, eq_rows, ub_rows + grid_rows)
        if solution is None:
            result.status = "solver failed"
            return result
        schedule = {
            v.id: np.array(
                [
                    solution[layout.c[i, t]] - (solution[layout.d[i, t]] if (i, t) in layout.d else 0.0)
                    if (i, t) in layout.c
                    else 0.0
                    for t in range(len(times))
                ]
            )
            for i, v in enumerate(scenario.vehicles)
        }
        bus_power = np.array(
            [[solution[layout.p[t, b]] for b in range(len(buses))] for t in range(len(times))]
        )
        verdict = replay.replay(factors, bus_power)
        result = OracleResult(
            schedule, "optimal", round_, len(grid_rows), float(cost @ solution), result.notes
        )
        if verdict.count == 0:
            return result
        for violation in verdict.violations:
            offset = _row_offset(replay, violation.kind, violation.index)
            tighten[violation.slot, offset] += violation.excess + (
                LOADING_MARGIN if violation.kind < 2 else VOLTAGE_MARGIN
            )
        for slot in verdict.not_converged_slots:
            share[slot] *= 0.7
        result.notes.append(f"round {round_}: {verdict.count} violations on replay")
    result.status = "violations remain"
    return result


def _row_offset(replay: AcReplay, kind: int, index: int) -> int:
    lines, trafos, buses = replay.element_names()
    return [0, len(lines), len(lines) + len(trafos), len(lines) + len(trafos) + len(buses)][kind] + index


def _grid_rows(
    layout: _Layout,
    sens: list[Sensitivity],
    nearest: np.ndarray,
    base_values: np.ndarray,
    sign: np.ndarray,
    limit: np.ndarray,
    tighten: np.ndarray,
    share: np.ndarray,
    charge_box: np.ndarray,
    discharge_box: np.ndarray,
) -> list[tuple[dict[int, float], float]]:
    """sign * (value0 + S p) <= max(sign * limit - tighten, sign * value0) per slot,
    element and direction (up, down), kept only where the box of bus powers could
    reach the limit."""
    rows: list[tuple[dict[int, float], float]] = []
    for t in range(base_values.shape[0]):
        if not charge_box[t].any() and not discharge_box[t].any():
            continue
        value0 = np.nan_to_num(base_values[t], nan=0.0)
        room = share[t] * np.maximum(sign * limit - tighten[t] - sign * value0, 0.0)
        for matrix in (sens[nearest[t]].up, sens[nearest[t]].down):
            slope = sign[:, None] * matrix
            reach = np.maximum(slope * charge_box[t], -slope * discharge_box[t]).sum(axis=1)
            candidates = np.flatnonzero((reach > room) | (tighten[t] > 0) | (share[t] < 1))
            ratio = reach[candidates] / np.maximum(room[candidates], 1e-9)
            ratio[tighten[t, candidates] > 0] = np.inf
            for r in candidates[np.argsort(-ratio)[:ROWS_PER_SLOT]]:
                entries = {
                    layout.p[t, b]: float(slope[r, b]) for b in np.flatnonzero(slope[r])
                }
                if entries:
                    rows.append((entries, float(room[r])))
    return rows


def _linprog(
    n: int,
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    eq_rows: list[tuple[dict[int, float], float]],
    ub_rows: list[tuple[dict[int, float], float]],
) -> np.ndarray | None:
    def matrix(rows: list[tuple[dict[int, float], float]]) -> tuple[Any, np.ndarray]:
        data, ri, ci = [], [], []
        for r, (entries, _) in enumerate(rows):
            for col, value in entries.items():
                ri.append(r)
                ci.append(col)
                data.append(value)
        return sp.csr_matrix((data, (ri, ci)), shape=(len(rows), n)), np.array(
            [rhs for _, rhs in rows]
        )

    a_eq, b_eq = matrix(eq_rows)
    a_ub, b_ub = matrix(ub_rows) if ub_rows else (None, None)
    answer = linprog(
        cost,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=np.column_stack([lower, upper]),
        method="highs",
    )
    return answer.x if answer.status == 0 else None
