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

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import linprog

from v2g.demand_response import DispatchTarget
from v2g.dispatch.grid import FloatArray, GridRows
from v2g.envelope import Efficiency, FleetEnvelope

IntArray = npt.NDArray[np.int64]

#: Shortfall against a DR target costs this much per kWh: above any energy price, so
#: the target wins over cost, but the rows for departures and reserves are hard.
SHORTFALL_COST_PER_KWH = 1000.0
#: Battery wear per kWh moved through the battery (either way): keeps the plan from
#: cycling energy without a reason.
WEAR_COST_PER_KWH = 0.01
#: A small preference for energy now over energy later (per kWh over the horizon):
#: without prices, cars are charged early rather than late.
EARLY_PREFERENCE_PER_KWH = 0.001
#: A grid row binds when less slack than this (relative to its bound, at least 1 in
#: the row's unit scale) is left at the solution.
BINDING_SLACK = 1e-4


class AllocationFailed(RuntimeError):
    """The LP has no solution (or the solver gave up); the planner falls back."""


@dataclass(frozen=True)
class Allocation:
    """Net power per group and slot in W (+ = charging), the shortfall against the
    fleet cap per slot (W), and which grid rows bind in slot 0 (``grid_binding``, one
    flag per row: no slack left at the solution)."""

    power_w: FloatArray = field(repr=False)
    shortfall_w: FloatArray = field(repr=False)
    grid_binding: npt.NDArray[np.bool_] = field(repr=False)
    iterations: int


@dataclass(frozen=True)
class _Layout:
    """Where each variable sits: c, d, e are group-major (g * slots + k), then s."""

    groups: int
    slots: int

    @property
    def n(self) -> int:
        return self.groups * self.slots

    @property
    def total(self) -> int:
        return 3 * self.n + self.slots

    def charge(self) -> IntArray:
        return np.arange(self.n)

    def discharge(self) -> IntArray:
        return self.n + np.arange(self.n)

    def energy(self) -> IntArray:
        return 2 * self.n + np.arange(self.n)

    def shortfall(self) -> IntArray:
        return 3 * self.n + np.arange(self.slots)

    def at_slot(self, first: int, k: int) -> IntArray:
        """Variables of slot k of the block that starts at ``first``, one per group."""
        return first + np.arange(self.groups) * self.slots + k


def _balance(layout: _Layout, h: FloatArray, efficiency: Efficiency) -> sp.coo_matrix:
    """e_gk - e_g(k-1) - eta_c h_k c_gk + h_k / eta_d d_gk = 0 (e before slot 0 is 0);
    ``h`` holds each slot's length in hours."""
    ids = np.arange(layout.n)
    later = ids % layout.slots != 0
    hours = h[ids % layout.slots]
    rows = np.concatenate([ids, ids[later], ids, ids])
    cols = np.concatenate(
        [layout.energy(), layout.energy()[later] - 1, layout.charge(), layout.discharge()]
    )
    values = np.concatenate(
        [
            np.ones(layout.n),
            -np.ones(int(later.sum())),
            -efficiency.charge * hours,
            hours / efficiency.discharge,
        ]
    )
    return sp.coo_matrix((values, (rows, cols)), shape=(layout.n, layout.total))


def _bounds(
    layout: _Layout,
    lower_w: FloatArray,
    upper_w: FloatArray,
    floor_wh: FloatArray,
    ceiling_wh: FloatArray,
) -> FloatArray:
    """Per variable (lower, upper), in kW and kWh; +-inf where there is none. The
    arguments are groups x slots."""
    lower, upper = lower_w.ravel() / 1000.0, upper_w.ravel() / 1000.0
    bounds = np.empty((layout.total, 2))
    bounds[layout.charge()] = np.column_stack([np.maximum(lower, 0.0), np.maximum(upper, 0.0)])
    bounds[layout.discharge()] = np.column_stack(
        [np.maximum(-upper, 0.0), np.maximum(-lower, 0.0)]
    )
    bounds[layout.energy()] = np.column_stack([floor_wh.ravel(), ceiling_wh.ravel()]) / 1000.0
    bounds[layout.shortfall()] = (0.0, np.inf)
    return bounds


def _fleet_cap(layout: _Layout, cap_w: FloatArray) -> tuple[sp.coo_matrix, FloatArray]:
    """sum_g (c - d)_gk - s_k <= cap_k in every slot with a cap."""
    capped = np.flatnonzero(np.isfinite(cap_w))
    per_row = 2 * layout.groups + 1
    cols = [
        np.concatenate(
            [
                layout.at_slot(0, int(k)),
                layout.at_slot(layout.n, int(k)),
                [layout.shortfall()[k]],
            ]
        )
        for k in capped
    ]
    signs = np.concatenate([np.ones(layout.groups), -np.ones(layout.groups), [-1.0]])
    matrix = sp.coo_matrix(
        (
            np.tile(signs, len(capped)),
            (np.repeat(np.arange(len(capped)), per_row), np.concatenate(cols or [np.zeros(0)])),
        ),
        shape=(len(capped), layout.total),
    )
    return matrix, cap_w[capped] / 1000.0


def _grid(layout: _Layout, rows: GridRows, factors: FloatArray) -> tuple[sp.spmatrix, FloatArray]:
    """The grid rows of every slot on the group net powers; a slot's base-load factor
    shifts the bounds by the rows' base-load sensitivity."""
    a = sp.csr_matrix(rows.a * 1000.0)  # per kW
    blocks, bounds = [], []
    groups = np.arange(layout.groups)
    for k in range(layout.slots):
        net = sp.csr_matrix(
            (
                np.concatenate([np.ones(layout.groups), -np.ones(layout.groups)]),
                (
                    np.concatenate([groups, groups]),
                    np.concatenate([layout.at_slot(0, k), layout.at_slot(layout.n, k)]),
                ),
            ),
            shape=(layout.groups, layout.total),
        )
        blocks.append(a @ net)
        bounds.append(rows.b - rows.base * (factors[k] - factors[0]))
    return sp.vstack(blocks), np.concatenate(bounds)


def _objective(
    layout: _Layout, prices: FloatArray, h: FloatArray, start_h: FloatArray
) -> FloatArray:
    """Costs per variable: ``h`` is each slot's length and ``start_h`` its start, in
    hours from now (slots may differ in length, see ``time_blocks``)."""
    slot = np.tile(np.arange(layout.slots), layout.groups)
    early = EARLY_PREFERENCE_PER_KWH * start_h[slot] / max(float(start_h[-1]), 1e-9)
    hours = h[slot]
    q = np.zeros(layout.total)
    q[layout.charge()] = (prices[slot] + WEAR_COST_PER_KWH + early) * hours
    q[layout.discharge()] = (-prices[slot] + WEAR_COST_PER_KWH) * hours
    q[layout.shortfall()] = SHORTFALL_COST_PER_KWH * h
    return q


def time_blocks(
    cap_w: FloatArray, prices: FloatArray, factors: FloatArray, fine: int, longest: int
) -> IntArray:
    """Where each block of slots starts. The first ``fine`` slots stay single; later
    slots join their predecessor while the fleet cap, price and base-load factor stay
    the same, up to ``longest`` slots a block. Nothing the LP sees changes inside a
    block but the corridors' intermediate points, which only the far future loses."""
    starts = [0]
    for k in range(1, len(prices)):
        first = starts[-1]
        same = (
            (cap_w[k] == cap_w[first] or (np.isinf(cap_w[k]) and np.isinf(cap_w[first])))
            and prices[k] == prices[first]
            and factors[k] == factors[first]
        )
        if first < fine or not same or k - first >= longest:
            starts.append(k)
    return np.array(starts, dtype=np.int64)


def allocate(
    groups: Sequence[FleetEnvelope],
    target: DispatchTarget,
    prices: FloatArray,
    efficiency: Efficiency,
    grid: GridRows,
    factors: FloatArray,
    time_limit_s: float = 5.0,
    fine_slots: int = 8,
    longest_block: int = 4,
) -> Allocation:
    """Solve the allocation for ``groups`` (each a group's envelope over one horizon).

    ``grid`` rows are per group power (W) at the base-load factor of slot 0; ``factors``
    holds each slot's base-load factor, which shifts the rows' bounds. Beyond the first
    ``fine_slots``, slots that nothing tells apart are planned as blocks of up to
    ``longest_block`` (power averaged, corridor at the block's end): the next cycles
    plan them again in detail as they come near."""
    horizon = groups[0].horizon
    starts = time_blocks(target.cap_w, prices, factors, fine_slots, longest_block)
    ends = np.append(starts[1:], horizon.slots)
    lengths = ends - starts

    def per_block(values: FloatArray) -> FloatArray:  # groups x slots -> mean per block
        means: FloatArray = np.add.reduceat(values, starts, axis=1) / lengths
        return means

    lower = per_block(np.array([g.lower_w for g in groups]))
    upper = per_block(np.array([g.upper_w for g in groups]))
    floor = np.array([g.min_energy_wh for g in groups])[:, ends - 1]
    ceiling = np.array([g.max_energy_wh for g in groups])[:, ends - 1]
    hours = (lengths * horizon.slot_h).astype(np.float64)
    start_h = (starts * horizon.slot_h).astype(np.float64)
    layout = _Layout(len(groups), len(starts))
    inequalities = [_fleet_cap(layout, target.cap_w[starts])]
    if grid.count:
        inequalities.append(_grid(layout, grid, factors[starts]))
    result = linprog(
        _objective(layout, prices[starts], hours, start_h),
        A_ub=sp.vstack([m for m, _ in inequalities]).tocsr(),
        b_ub=np.concatenate([b for _, b in inequalities]),
        A_eq=_balance(layout, hours, efficiency).tocsr(),
        b_eq=np.zeros(layout.n),
        bounds=_bounds(layout, lower, upper, floor, ceiling),
        method="highs",
        options={"time_limit": max(time_limit_s, 0.05), "presolve": True},
    )
    if result.status != 0 or result.x is None:
        raise AllocationFailed(f"allocation LP: {result.message}")
    x = np.asarray(result.x)
    block_power = (x[layout.charge()] - x[layout.discharge()]).reshape(layout.groups, -1)
    power_w = np.repeat(block_power * 1000.0, lengths, axis=1)
    slack = grid.b - grid.a @ power_w[:, 0] if grid.count else np.zeros(0)
    return Allocation(
        power_w=power_w,
        shortfall_w=np.repeat(np.maximum(x[layout.shortfall()], 0.0) * 1000.0, lengths),
        grid_binding=slack <= BINDING_SLACK * np.maximum(1.0, np.abs(grid.b)),
        iterations=int(result.nit),
    )


#: Cost per kW of a group plan that misses its zone's planned power in slot 0.
ZONE_MISS_COST = 1.0


def allocate_now(
    lower_w: FloatArray,
    upper_w: FloatArray,
    zone_of: IntArray,
    zone_power_w: FloatArray,
    grid: GridRows,
    time_limit_s: float = 5.0,
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Slot 0 in full detail: group powers within their own ranges (the vehicles'
    corridors summed) and every grid row of slot 0, as close to each zone's planned
    power as they allow. Returns the group powers (W) and which rows bind.

    Variables: p_g (kW), then per zone the miss above and below (kW)."""
    groups, zones = len(lower_w), len(zone_power_w)
    total = groups + 2 * zones
    members = sp.coo_matrix((np.ones(groups), (zone_of, np.arange(groups))), shape=(zones, groups))
    # sum_{g in z} p_g - over_z + under_z = P_z
    a_eq = sp.hstack([members, -sp.eye(zones), sp.eye(zones)]).tocsr()
    a_ub = sp.hstack([sp.csr_matrix(grid.a * 1000.0), sp.csr_matrix((grid.count, 2 * zones))])
    bounds = np.empty((total, 2))
    bounds[:groups] = np.column_stack([lower_w, upper_w]) / 1000.0
    bounds[groups:] = (0.0, np.inf)
    cost = np.concatenate([np.zeros(groups), np.full(2 * zones, ZONE_MISS_COST)])
    result = linprog(
        cost,
        A_ub=a_ub.tocsr() if grid.count else None,
        b_ub=grid.b if grid.count else None,
        A_eq=a_eq,
        b_eq=zone_power_w / 1000.0,
        bounds=bounds,
        method="highs",
        options={"time_limit": max(time_limit_s, 0.05)},
    )
    if result.status != 0 or result.x is None:
        raise AllocationFailed(f"slot-0 allocation: {result.message}")
    power_w = np.asarray(result.x[:groups]) * 1000.0
    slack = grid.b - grid.a @ power_w if grid.count else np.zeros(0)
    return power_w, slack <= BINDING_SLACK * np.maximum(1.0, np.abs(grid.b))
