"""The allocation LP: group powers over the horizon that meet the target as far as the
envelopes, the departures and the grid allow, then cost least. See README.md here.

Variables per group g and slot k (kW, kWh): charge c >= 0, discharge d >= 0 and the
energy taken in since now e (e_k = e_{k-1} + eta_c h c_k - h d_k / eta_d); per slot a
target shortfall s >= 0. Hard: power bounds, the energy corridor (departures and
reserves), grid rows. Soft: the fleet cap (DR target), whose shortfall costs far more
than any price, so it is met whenever the hard rows allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import clarabel
import numpy as np
import scipy.sparse as sp

from v2g.demand_response import DispatchTarget
from v2g.dispatch.grid import FloatArray, GridRows
from v2g.envelope import Efficiency, FleetEnvelope

#: Shortfall against a DR target costs this much per kWh: above any energy price, so
#: the target wins over cost, but the rows for departures and reserves are hard.
SHORTFALL_COST_PER_KWH = 1000.0
#: Battery wear per kWh moved through the battery (either way): keeps the plan from
#: cycling energy without a reason.
WEAR_COST_PER_KWH = 0.01
#: A small preference for energy now over energy later (per kWh over the horizon):
#: without prices, cars are charged early rather than late.
EARLY_PREFERENCE_PER_KWH = 0.001


class AllocationFailed(RuntimeError):
    """The LP has no solution (or the solver gave up); the planner falls back."""


@dataclass(frozen=True)
class Allocation:
    """Net power per group and slot in W (+ = charging), with what bound it.

    ``grid_duals`` holds, per grid row of slot 0, how much the plan would gain per
    unit of that row's bound (0 = not binding); ``target_dual`` likewise per slot for
    the fleet cap."""

    power_w: FloatArray = field(repr=False)
    shortfall_w: FloatArray = field(repr=False)
    grid_duals: FloatArray = field(repr=False)
    target_dual: FloatArray = field(repr=False)
    iterations: int


def allocate(
    groups: Sequence[FleetEnvelope],
    target: DispatchTarget,
    prices: FloatArray,
    efficiency: Efficiency,
    grid: GridRows,
    factors: FloatArray,
    time_limit_s: float = 5.0,
) -> Allocation:
    """Solve the allocation for ``groups`` (each a group's envelope over one horizon).

    ``grid`` rows are per group power (W) at the base-load factor of slot 0; ``factors``
    holds each slot's base-load factor, which shifts the rows' bounds."""
    n_groups = len(groups)
    horizon = groups[0].horizon
    slots, h = horizon.slots, horizon.slot_h
    n = n_groups * slots
    c0, d0, e0, s0 = 0, n, 2 * n, 3 * n
    total = 3 * n + slots

    def gk(offset: int) -> FloatArray:
        return offset + np.arange(n)

    rows_eq: list[sp.coo_matrix] = []
    # Energy balance: e_gk - e_g(k-1) - eta_c h c_gk + h/eta_d d_gk = 0.
    ids = np.arange(n)
    first = ids % slots == 0
    eq_rows = np.concatenate([ids, ids[~first], ids, ids])
    eq_cols = np.concatenate([gk(e0), gk(e0)[~first] - 1, gk(c0), gk(d0)])
    eq_vals = np.concatenate(
        [
            np.ones(n),
            -np.ones(int((~first).sum())),
            np.full(n, -efficiency.charge * h),
            np.full(n, h / efficiency.discharge),
        ]
    )
    rows_eq.append(sp.coo_matrix((eq_vals, (eq_rows, eq_cols)), shape=(n, total)))

    lower_kw = np.concatenate([g.lower_w for g in groups]) / 1000.0
    upper_kw = np.concatenate([g.upper_w for g in groups]) / 1000.0
    floor_kwh = np.concatenate([g.min_energy_wh for g in groups]) / 1000.0
    ceil_kwh = np.concatenate([g.max_energy_wh for g in groups]) / 1000.0
    # Box rows as x <= hi and -x <= -lo on the variables that have them.
    box_var: list[FloatArray] = []
    box_sign: list[FloatArray] = []
    box_rhs: list[FloatArray] = []

    def box(var: FloatArray, hi: FloatArray | None, lo: FloatArray | None) -> None:
        if hi is not None:
            keep = np.isfinite(hi)
            box_var.append(var[keep])
            box_sign.append(np.ones(int(keep.sum())))
            box_rhs.append(hi[keep])
        if lo is not None:
            keep = np.isfinite(lo)
            box_var.append(var[keep])
            box_sign.append(-np.ones(int(keep.sum())))
            box_rhs.append(-lo[keep])

    box(gk(c0), np.maximum(upper_kw, 0.0), np.maximum(lower_kw, 0.0))
    box(gk(d0), np.maximum(-lower_kw, 0.0), np.maximum(-upper_kw, 0.0))
    box(gk(e0), ceil_kwh, floor_kwh)
    box(s0 + np.arange(slots), None, np.zeros(slots))
    variables = np.concatenate(box_var).astype(int)
    inequalities = [
        sp.coo_matrix(
            (np.concatenate(box_sign), (np.arange(len(variables)), variables)),
            shape=(len(variables), total),
        )
    ]
    rhs = [np.concatenate(box_rhs)]

    # The fleet cap: sum_g (c - d)_k - s_k <= cap_k, where a cap is set.
    capped = np.flatnonzero(np.isfinite(target.cap_w))
    if len(capped):
        rows = np.repeat(np.arange(len(capped)), 2 * n_groups + 1)
        cols = np.concatenate(
            [
                np.concatenate(
                    [
                        c0 + np.arange(n_groups) * slots + k,
                        d0 + np.arange(n_groups) * slots + k,
                        [s0 + k],
                    ]
                )
                for k in capped
            ]
        )
        vals = np.tile(
            np.concatenate([np.ones(n_groups), -np.ones(n_groups), [-1.0]]), len(capped)
        )
        inequalities.append(sp.coo_matrix((vals, (rows, cols)), shape=(len(capped), total)))
        rhs.append(target.cap_w[capped] / 1000.0)
    target_rows = (sum(m.shape[0] for m in inequalities) - len(capped), len(capped))

    # Grid rows per slot on the group net powers.
    grid_start = sum(m.shape[0] for m in inequalities)
    if grid.count:
        a = sp.csr_matrix(grid.a * 1000.0)  # per kW
        blocks = []
        bounds = []
        for k in range(slots):
            pick = sp.csr_matrix(
                (np.ones(n_groups), (np.arange(n_groups), c0 + np.arange(n_groups) * slots + k)),
                shape=(n_groups, total),
            )
            pick_d = sp.csr_matrix(
                (np.ones(n_groups), (np.arange(n_groups), d0 + np.arange(n_groups) * slots + k)),
                shape=(n_groups, total),
            )
            blocks.append(a @ (pick - pick_d))
            bounds.append(grid.b - grid.base * (factors[k] - factors[0]))
        inequalities.append(sp.vstack(blocks).tocoo())
        rhs.append(np.concatenate(bounds))

    a_eq = sp.vstack(rows_eq)
    a_in = sp.vstack(inequalities)
    a_all = sp.vstack([a_eq, a_in]).tocsc()
    b_all = np.concatenate([np.zeros(n), *rhs])

    slot_index = np.tile(np.arange(slots), n_groups)
    early = EARLY_PREFERENCE_PER_KWH * slot_index / max(slots - 1, 1)
    price = prices[slot_index]
    q = np.zeros(total)
    q[c0 : c0 + n] = (price + WEAR_COST_PER_KWH + early) * h
    q[d0 : d0 + n] = (-price + WEAR_COST_PER_KWH) * h
    q[s0:] = SHORTFALL_COST_PER_KWH * h

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.time_limit = max(time_limit_s, 0.05)
    solver = clarabel.DefaultSolver(
        sp.csc_matrix((total, total)),
        q,
        a_all,
        b_all,
        [clarabel.ZeroConeT(n), clarabel.NonnegativeConeT(a_in.shape[0])],
        settings,
    )
    solution = solver.solve()
    status = str(solution.status)
    if status not in ("Solved", "AlmostSolved"):
        raise AllocationFailed(f"allocation LP: {status}")
    x = np.asarray(solution.x)
    z = np.asarray(solution.z)[n:]
    power_kw = x[c0 : c0 + n] - x[d0 : d0 + n]
    grid_duals = z[grid_start : grid_start + grid.count] if grid.count else np.zeros(0)
    start, count = target_rows
    target_dual = np.zeros(slots)
    target_dual[capped] = z[start : start + count]
    return Allocation(
        power_w=power_kw.reshape(n_groups, slots) * 1000.0,
        shortfall_w=x[s0:] * 1000.0,
        grid_duals=grid_duals,
        target_dual=target_dual,
        iterations=int(solution.iterations),
    )
