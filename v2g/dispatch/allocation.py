"""The allocation LP: group powers over the horizon that keep the promises in order.
See README.md here.

Variables per group g and slot k (kW, kWh): charge c >= 0, discharge d >= 0 and the
energy taken in since now e (e_k = e_{k-1} + eta_c h c_k - h d_k / eta_d); per group a
departure shortfall u >= 0; per slot a DR shortfall s >= 0.

The promises, in order, and how each enters:

1. grid rows: hard; a row the base load alone already breaks is elastic at a cost
   above any departure, so vehicles relieve it where they can (discharging below the
   broken element) and nothing is infeasible;
2. reserves and power limits: hard (zero power always satisfies them);
3. departures: elastic, e_gk + u_g >= floor_gk, u_g costs DEPARTURE_COST_PER_KWH, more
   than any DR or price gain a kWh could earn;
4. the fleet cap (DR, operator): elastic, s_k costs DR_COST_PER_KWH, above any price;
   an owner who accepts a shortfall gives way to it (and only to it): the target is a
   departure row whose shortfall is cheap up to the energy discharged for DR;
5. a slack of DEPARTURE_SLACK_SHARE before each departure (elastic, below DR);
6. price, battery wear (a tie-breaker) and a small preference for early charging.

Zero EV power satisfies every hard row, so the program always has a solution; its
slack says what was given up and where.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from v2g.demand_response import DispatchTarget
from v2g.dispatch.grid import FloatArray, GridRows
from v2g.dispatch.lp import LpFailed, solve_lp
from v2g.envelope import Efficiency, FleetEnvelope

IntArray = npt.NDArray[np.int64]

#: Shortfall against a DR target costs this much per kWh: above any energy price, so
#: the target wins over cost.
DR_COST_PER_KWH = 1000.0
#: A kWh missing at a departure (for an owner who did not accept a shortfall) costs
#: this much: a kWh discharged for DR takes 1/eta_d kWh out of the battery, so this
#: must exceed DR_COST_PER_KWH / eta_d; twenty times over leaves no doubt.
DEPARTURE_COST_PER_KWH = 20 * DR_COST_PER_KWH
#: A grid row the base load alone breaks: each kWh-equivalent of it left unrelieved
#: costs more than any departure kWh (see ``departure_costs``, at most 11 times
#: DEPARTURE_COST_PER_KWH), so the grid comes first.
GRID_RELIEF_COST_PER_KWH = 20 * DEPARTURE_COST_PER_KWH
#: Battery wear per kWh moved through the battery (either way): keeps the plan from
#: cycling energy without a reason.
WEAR_COST_PER_KWH = 0.0005
#: A small preference for energy now over energy later (per kWh over the horizon):
#: without prices, cars are charged early rather than late.
EARLY_PREFERENCE_PER_KWH = 0.001
#: Share of a grid row's room that plans for later slots leave unused.
FUTURE_ROOM_MARGIN = 0.03
#: Share of the charging still ahead of a departure that the plan keeps in hand (it
#: charges that much earlier than the last moment): a plan that meets a departure to
#: the last slot at full power is missed by the first curtailment of the AC check or
#: the first vehicle that arrives and shares the feeder.
DEPARTURE_SLACK_SHARE = 0.1
#: A kWh of that slack given up costs this much: above any price, below DR (an event
#: may use it; the departure itself stays at DEPARTURE_COST_PER_KWH).
DEPARTURE_SLACK_COST_PER_KWH = 100.0
#: A grid row binds when less slack than this (relative to its bound, at least 1 in
#: the row's unit scale) is left at the solution.
BINDING_SLACK = 1e-4


class AllocationFailed(RuntimeError):
    """The solver gave up (time limit, numerical trouble): the planner falls back to a
    rule that still sees the grid. Never raised for conflicting promises: those are
    elastic rows."""


@dataclass(frozen=True)
class Allocation:
    """Net power per group and slot in W (+ = charging), the shortfall against the
    fleet cap per slot (W), the energy each group's departures miss (Wh), which grid
    rows bind in slot 0 (``grid_binding``, one flag per row: no slack left at the
    solution) and which rows the base load alone breaks (``base_broken``, per row: the
    first slot where it does, -1 where it never does)."""

    power_w: FloatArray = field(repr=False)
    shortfall_w: FloatArray = field(repr=False)
    grid_binding: npt.NDArray[np.bool_] = field(repr=False)
    iterations: int
    departure_shortfall_wh: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)
    #: Per grid row: binds in some slot of the horizon (no slack left there).
    binds_later: npt.NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros(0, dtype=np.bool_), repr=False
    )
    base_broken: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)


@dataclass(frozen=True)
class _Layout:
    """Where each variable sits: c, d, e are group-major (g * slots + k), then s per
    slot, then u per group."""

    groups: int
    slots: int

    @property
    def n(self) -> int:
        return self.groups * self.slots

    @property
    def total(self) -> int:
        return 3 * self.n + self.slots + self.groups

    def charge(self) -> IntArray:
        return np.arange(self.n)

    def discharge(self) -> IntArray:
        return self.n + np.arange(self.n)

    def energy(self) -> IntArray:
        return 2 * self.n + np.arange(self.n)

    def shortfall(self) -> IntArray:
        return 3 * self.n + np.arange(self.slots)

    def departure(self) -> IntArray:
        return 3 * self.n + self.slots + np.arange(self.groups)

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
    reserve_wh: FloatArray,
    ceiling_wh: FloatArray,
) -> FloatArray:
    """Per variable (lower, upper), in kW and kWh; +-inf where there is none. The
    arguments are groups x slots. Charge and discharge may always be zero (a must-run
    power is a departure need, elastic like the others), so zero power is feasible."""
    lower, upper = lower_w.ravel() / 1000.0, upper_w.ravel() / 1000.0
    bounds = np.empty((layout.total, 2))
    bounds[layout.charge()] = np.column_stack([np.zeros_like(upper), np.maximum(upper, 0.0)])
    bounds[layout.discharge()] = np.column_stack([np.zeros_like(lower), np.maximum(-lower, 0.0)])
    low_e = np.minimum(reserve_wh.ravel(), 0.0) / 1000.0
    bounds[layout.energy()] = np.column_stack(
        [low_e, np.maximum(ceiling_wh.ravel(), 0.0) / 1000.0]
    )
    bounds[layout.shortfall()] = (0.0, np.inf)
    bounds[layout.departure()] = (0.0, np.inf)
    return bounds


def _departures(
    layout: _Layout, floor_wh: FloatArray, reserve_wh: FloatArray
) -> tuple[sp.coo_matrix, FloatArray]:
    """-e_gk - u_g <= -floor_gk wherever a departure asks more than the hard floor
    already holds (``floor_wh`` and ``reserve_wh`` are groups x slots, relative Wh)."""
    floor = floor_wh.ravel()
    needed = np.flatnonzero(np.isfinite(floor) & (floor > np.minimum(reserve_wh.ravel(), 0.0)))
    count = len(needed)
    rows = np.concatenate([np.arange(count), np.arange(count)])
    cols = np.concatenate([layout.energy()[needed], layout.departure()[needed // layout.slots]])
    matrix = sp.coo_matrix((-np.ones(2 * count), (rows, cols)), shape=(count, layout.total))
    return matrix, -floor[needed] / 1000.0


def _departure_slack(
    layout: _Layout,
    floor_wh: FloatArray,
    wanted_wh: FloatArray,
    ceiling_wh: FloatArray,
    reserve_wh: FloatArray,
) -> tuple[sp.coo_matrix, sp.coo_matrix, FloatArray]:
    """-e_gk - w_g <= -slack_floor_gk where a departure wants more than the floor
    holds: ``wanted_wh`` (the owners' targets: the floor, or above it for owners who
    accept a shortfall) moved DEPARTURE_SLACK_SHARE of the way to what the group wants
    by the horizon's end, never above the ceiling. Returns the rows on the layout's
    columns, the rows on the groups' slack columns w_g (one per group, appended after
    every other column) and the right-hand side (kWh)."""
    floor, ceiling = floor_wh.ravel(), ceiling_wh.ravel()
    base = np.maximum(wanted_wh, floor_wh).ravel()
    end = np.repeat(np.maximum(wanted_wh, floor_wh)[:, -1], layout.slots)
    wanted = np.minimum(base + DEPARTURE_SLACK_SHARE * np.maximum(end - base, 0.0), ceiling)
    needed = np.flatnonzero(
        np.isfinite(base)
        & (base > np.minimum(reserve_wh.ravel(), 0.0))
        & np.isfinite(wanted)
        & (wanted > floor + 1.0)
    )
    count = len(needed)
    on_e = sp.coo_matrix(
        (-np.ones(count), (np.arange(count), layout.energy()[needed])),
        shape=(count, layout.total),
    )
    on_w = sp.coo_matrix(
        (-np.ones(count), (np.arange(count), needed // layout.slots)),
        shape=(count, layout.groups),
    )
    return on_e, on_w, -wanted[needed] / 1000.0


def _accepted_shortfall(
    layout: _Layout,
    floor_wh: FloatArray,
    wanted_wh: FloatArray,
    capped: npt.NDArray[np.bool_],
    hours: FloatArray,
    efficiency: Efficiency,
    given_wh: FloatArray,
) -> tuple[sp.coo_matrix, sp.coo_matrix, FloatArray]:
    """Owners who accept a shortfall accept it for DR only (``OwnerPolicy``): where a
    group wants more than its floor, -e_gk - u_g - z_g <= -wanted_gk (u_g: the
    departure shortfall, at its full cost) and z_g <= the energy the group's batteries
    give up in slots with a fleet cap (``capped``; net of charging in those slots, so
    charging while discharging buys no excuse) plus what they gave to DR events before
    now (``given_wh``, per group: an event's first hour stays excused in its second).
    Only z_g is cheap (below DR): the target gives way to an event, never to price or
    to another vehicle. Returns the rows on the layout's columns, on the z columns (one
    per group) and the right-hand side."""
    floor, wanted = floor_wh.ravel(), wanted_wh.ravel()
    rows = np.flatnonzero(np.isfinite(wanted) & (wanted > floor + 1.0))
    groups = np.unique(rows // layout.slots)
    count = len(rows)
    dr_slots = np.flatnonzero(capped)
    # Target rows first, then one row per group bounding z_g by its DR discharge.
    first = groups * layout.slots
    d_cols = (layout.discharge()[first][:, None] + dr_slots[None, :]).ravel()
    c_cols = (layout.charge()[first][:, None] + dr_slots[None, :]).ravel()
    per_group = np.repeat(np.arange(len(groups)), len(dr_slots))
    on_layout = sp.coo_matrix(
        (
            np.concatenate(
                [
                    -np.ones(2 * count),
                    np.tile(-hours[dr_slots] / efficiency.discharge, len(groups)),
                    np.tile(hours[dr_slots] * efficiency.charge, len(groups)),
                ]
            ),
            (
                np.concatenate(
                    [
                        np.arange(count),
                        np.arange(count),
                        count + per_group,
                        count + per_group,
                    ]
                ),
                np.concatenate(
                    [
                        layout.energy()[rows],
                        layout.departure()[rows // layout.slots],
                        d_cols,
                        c_cols,
                    ]
                ),
            ),
        ),
        shape=(count + len(groups), layout.total),
    )
    on_z = sp.coo_matrix(
        (
            np.concatenate([-np.ones(count), np.ones(len(groups))]),
            (
                np.concatenate([np.arange(count), count + np.arange(len(groups))]),
                np.concatenate([rows // layout.slots, groups]),
            ),
        ),
        shape=(count + len(groups), layout.groups),
    )
    return on_layout, on_z, np.concatenate([-wanted[rows] / 1000.0, given_wh[groups] / 1000.0])


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


def _base_bounds(rows: GridRows, factors: FloatArray) -> FloatArray:
    """Each row's bound in each slot (rows x slots) before any margin."""
    bounds: FloatArray = rows.b[:, None] - rows.base[:, None] * (factors[None, :] - factors[0])
    return bounds


def _grid_bounds(rows: GridRows, factors: FloatArray) -> FloatArray:
    """Each row's bound in each slot (rows x slots): a slot's base-load factor shifts
    it by the row's base-load sensitivity. A negative bound: the base load alone
    breaks the row there (see ``_grid_relief``)."""
    bounds = _base_bounds(rows, factors)
    # Later slots keep some room in reserve: their base load is a forecast and their
    # linear rows are further from the operating point, and a departure planned to the
    # last watt would be missed by the first curtailment.
    later = bounds[:, 1:]
    bounds[:, 1:] = np.where(later > 0, later * (1.0 - FUTURE_ROOM_MARGIN), later)
    return bounds


def base_broken(rows: GridRows, factors: FloatArray) -> IntArray:
    """Per row, the first slot in which the base load alone breaks it (-1: never)."""
    broken = _base_bounds(rows, factors) < 0
    first: IntArray = np.where(broken.any(axis=1), np.argmax(broken, axis=1), -1)
    return first


def _grid(layout: _Layout, rows: GridRows, bounds: FloatArray) -> tuple[sp.spmatrix, FloatArray]:
    """The grid rows of every slot on the group net powers; ``bounds`` (rows x slots)
    from ``_grid_bounds``."""
    a = sp.csr_matrix(rows.a * 1000.0)  # per kW
    blocks: list[sp.spmatrix] = []
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
    return sp.vstack(blocks), bounds.T.ravel()


def _grid_relief(
    layout: _Layout, rows: GridRows, bounds: FloatArray, hours: FloatArray, first_row: int
) -> tuple[sp.coo_matrix, FloatArray]:
    """Slack for each (row, slot) the base load alone breaks, as extra columns after
    the layout's variables: ``a x - v <= b`` with ``b < 0``. Zero EV power stays
    feasible (``v = -b``), and every unit of ``v`` costs more than the energy of any
    departure that relieving it could take (GRID_RELIEF_COST_PER_KWH per kWh of the
    most effective group's power): the grid comes first, so vehicles that can
    discharge below the broken element relieve it, but nothing is made infeasible.
    ``first_row`` is where the grid block starts among all inequality rows."""
    broken_row, broken_slot = np.nonzero(bounds < 0)
    count = len(broken_row)
    per_kw = np.maximum(np.abs(rows.a).max(axis=1) * 1000.0, 1e-12)  # row units per kW
    matrix = sp.coo_matrix(
        (
            -np.ones(count),
            (first_row + broken_slot * rows.count + broken_row, np.arange(count)),
        ),
        shape=(first_row + layout.slots * rows.count, count),
    )
    costs: FloatArray = GRID_RELIEF_COST_PER_KWH * hours[broken_slot] / per_kw[broken_row]
    return matrix, costs


def departure_costs(groups: Sequence[FleetEnvelope]) -> FloatArray:
    """Cost per kWh of each group's departure shortfall. Every one is above
    DEPARTURE_COST_PER_KWH; smaller needs per vehicle cost more, so when the grid
    cannot serve everyone, the plan misses few departures by more rather than every
    departure by a little (the one it misses was furthest from its target anyway)."""
    need_kwh = np.array(
        [
            max(float(np.max(g.min_energy_wh, initial=0.0)), 0.0) / 1000 / max(g.vehicles, 1)
            for g in groups
        ]
    )
    costs: FloatArray = DEPARTURE_COST_PER_KWH * (1.0 + 10.0 / np.maximum(need_kwh, 1.0))
    return costs


def _objective(
    layout: _Layout,
    prices: FloatArray,
    h: FloatArray,
    start_h: FloatArray,
    departure_cost: FloatArray,
    until_h: FloatArray,
) -> FloatArray:
    """Costs per variable: ``h`` is each slot's length and ``start_h`` its start, in
    hours from now (slots may differ in length, see ``time_blocks``); ``until_h`` is
    how long each group can still charge.

    The early preference is relative to each group's own time left: a kWh put off by
    an hour costs more for a car leaving in two hours than for one leaving in ten. So
    where the grid's room now is contested and the cost is otherwise equal, the car
    leaving first gets it (least laxity first), instead of whichever the solver's
    vertex happens to favour: the receding horizon would otherwise put the leaving
    car off cycle after cycle until its time ran out."""
    slot = np.tile(np.arange(layout.slots), layout.groups)
    group = np.repeat(np.arange(layout.groups), layout.slots)
    share_of_time_left = np.minimum(start_h[slot] / np.maximum(until_h[group], 1e-9), 1.0)
    early = EARLY_PREFERENCE_PER_KWH * share_of_time_left
    hours = h[slot]
    q = np.zeros(layout.total)
    q[layout.charge()] = (prices[slot] + WEAR_COST_PER_KWH + early) * hours
    q[layout.discharge()] = (-prices[slot] + WEAR_COST_PER_KWH) * hours
    q[layout.shortfall()] = DR_COST_PER_KWH * h
    q[layout.departure()] = departure_cost
    return q


def _charging_until_h(upper_w: FloatArray, start_h: FloatArray, hours: FloatArray) -> FloatArray:
    """Per group (rows of ``upper_w``, groups x blocks): hours from now to the end of
    the last block it can charge in (0 if none)."""
    can = upper_w > 0
    last = can.shape[1] - 1 - np.argmax(can[:, ::-1], axis=1)
    until: FloatArray = np.where(can.any(axis=1), start_h[last] + hours[last], 0.0)
    return until


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
    wanted_wh: FloatArray | None = None,
    given_wh: FloatArray | None = None,
) -> Allocation:
    """Solve the allocation for ``groups`` (each a group's envelope over one horizon).

    ``grid`` rows are per group power (W) at the base-load factor of slot 0; ``factors``
    holds each slot's base-load factor, which shifts the rows' bounds. Beyond the first
    ``fine_slots``, slots that nothing tells apart are planned as blocks of up to
    ``longest_block`` (power averaged, corridor at the block's end): the next cycles
    plan them again in detail as they come near. ``wanted_wh`` (groups x slots, like
    the envelopes' ``min_energy_wh``) is what the owners want where it is more than
    the floor (owners who accept a shortfall): elastic below DR, see
    ``_departure_slack``; ``given_wh`` (per group) what those owners' cars gave to DR
    events before now, see ``_accepted_shortfall``."""
    horizon = groups[0].horizon
    starts = time_blocks(target.cap_w, prices, factors, fine_slots, longest_block)
    ends = np.append(starts[1:], horizon.slots)
    lengths = ends - starts
    # Slots differ in length (clock-aligned, cut at DR boundaries): a block's hours are
    # its slots' hours, its power bounds their time-weighted mean.
    slot_hours = horizon.hours
    hours = np.add.reduceat(slot_hours, starts).astype(np.float64)
    start_h = (horizon.offsets_s[starts] / 3600.0).astype(np.float64)

    def per_block(values: FloatArray) -> FloatArray:  # groups x slots -> mean per block
        means: FloatArray = np.add.reduceat(values * slot_hours, starts, axis=1) / hours
        return means

    lower = per_block(np.array([g.lower_w for g in groups]))
    upper = per_block(np.array([g.upper_w for g in groups]))
    floor = np.array([g.min_energy_wh for g in groups])[:, ends - 1]
    ceiling = np.array([g.max_energy_wh for g in groups])[:, ends - 1]
    reserve = np.array([g.reserve_energy_wh for g in groups])[:, ends - 1]
    layout = _Layout(len(groups), len(starts))
    inequalities = [_fleet_cap(layout, target.cap_w[starts]), _departures(layout, floor, reserve)]
    a_ub = sp.vstack([m for m, _ in inequalities])
    relief, relief_cost = sp.coo_matrix((a_ub.shape[0], 0)), np.zeros(0)
    if grid.count:
        room = _grid_bounds(grid, factors[starts])  # rows x blocks
        relief, relief_cost = _grid_relief(layout, grid, room, hours, a_ub.shape[0])
        inequalities.append(_grid(layout, grid, room))
        a_ub = sp.vstack([a_ub, inequalities[-1][0]])
    bounds = _bounds(layout, lower, upper, reserve, ceiling)
    wanted = floor if wanted_wh is None else np.maximum(wanted_wh[:, ends - 1], floor)
    slack_e, slack_w, slack_b = _departure_slack(layout, floor, wanted, ceiling, reserve)
    accepted_e, accepted_z, accepted_b = _accepted_shortfall(
        layout,
        floor,
        wanted,
        np.isfinite(target.cap_w[starts]),
        hours,
        efficiency,
        np.zeros(layout.groups) if given_wh is None else given_wh,
    )
    # After the layout's columns: relief, then per group its slack w and its accepted z.
    extra = len(relief_cost) + 2 * layout.groups
    try:
        solution = solve_lp(
            np.concatenate(
                [
                    _objective(
                        layout,
                        prices[starts],
                        hours,
                        start_h,
                        departure_costs(groups),
                        _charging_until_h(upper, start_h, hours),
                    ),
                    relief_cost,
                    np.full(layout.groups, DEPARTURE_SLACK_COST_PER_KWH),
                    np.full(layout.groups, DEPARTURE_SLACK_COST_PER_KWH),
                ]
            ),
            sp.vstack(
                [
                    sp.hstack([a_ub, relief, sp.coo_matrix((a_ub.shape[0], 2 * layout.groups))]),
                    sp.hstack(
                        [
                            slack_e,
                            sp.coo_matrix((slack_e.shape[0], len(relief_cost))),
                            slack_w,
                            sp.coo_matrix((slack_e.shape[0], layout.groups)),
                        ]
                    ),
                    sp.hstack(
                        [
                            accepted_e,
                            sp.coo_matrix((accepted_e.shape[0], len(relief_cost) + layout.groups)),
                            accepted_z,
                        ]
                    ),
                ]
            ).tocsr(),
            np.concatenate([b for _, b in inequalities] + [slack_b, accepted_b]),
            sp.hstack(
                [_balance(layout, hours, efficiency), sp.coo_matrix((layout.n, extra))]
            ).tocsr(),
            np.zeros(layout.n),
            np.vstack([bounds, np.tile([0.0, np.inf], (extra, 1))]),
            time_limit_s,
        )
    except LpFailed as failure:
        raise AllocationFailed(f"allocation LP: {failure}") from failure
    x = solution.x
    block_power = (x[layout.charge()] - x[layout.discharge()]).reshape(layout.groups, -1)
    power_w = np.repeat(block_power * 1000.0, lengths, axis=1)
    slack = grid.b - grid.a @ power_w[:, 0] if grid.count else np.zeros(0)
    later: npt.NDArray[np.bool_] = np.zeros(grid.count, dtype=bool)
    if grid.count:
        room = np.maximum(room, 0.0)
        used = grid.a @ block_power * 1000.0
        near_full = room - used <= BINDING_SLACK * np.maximum(1.0, np.abs(room))
        later = np.asarray(near_full.any(axis=1), dtype=bool)
    return Allocation(
        power_w=power_w,
        shortfall_w=np.repeat(np.maximum(x[layout.shortfall()], 0.0) * 1000.0, lengths),
        grid_binding=slack <= BINDING_SLACK * np.maximum(1.0, np.abs(grid.b)),
        iterations=solution.iterations,
        departure_shortfall_wh=np.maximum(x[layout.departure()], 0.0) * 1000.0,
        base_broken=base_broken(grid, factors),
        binds_later=later,
    )


#: Cost per kW of a group plan that misses its zone's planned power in slot 0.
ZONE_MISS_COST = 1.0
#: Cost per kW of a group plan below the power its departures need now: far above
#: any zone miss, so only the grid takes it away.
NEED_MISS_COST = 1000.0


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

    A positive lower end (power a departure needs now) is elastic at the departure
    cost, and a row the base load alone breaks is held at zero, as in ``allocate``:
    so zero power is always feasible.

    Variables: p_g (kW), per zone the miss above and below (kW), per group the miss
    of its needed power (kW)."""
    groups, zones = len(lower_w), len(zone_power_w)
    total = 2 * groups + 2 * zones
    members = sp.coo_matrix((np.ones(groups), (zone_of, np.arange(groups))), shape=(zones, groups))
    # sum_{g in z} p_g - over_z + under_z = P_z
    a_eq = sp.hstack([members, -sp.eye(zones), sp.eye(zones), sp.csr_matrix((zones, groups))])
    # -p_g - m_g <= -lower_g only where the lower end asks for charging: elsewhere a
    # row would charge every discharge as a missed need.
    needy = np.flatnonzero(lower_w > 0)
    pick = sp.coo_matrix(
        (np.ones(len(needy)), (np.arange(len(needy)), needy)), shape=(len(needy), groups)
    )
    needs = sp.hstack([-pick, sp.csr_matrix((len(needy), 2 * zones)), -pick]).tocsr()
    need_b = -lower_w[needy] / 1000.0
    a_ub = sp.vstack(
        [
            sp.hstack(
                [sp.csr_matrix(grid.a * 1000.0), sp.csr_matrix((grid.count, 2 * zones + groups))]
            ),
            needs,
        ]
    ).tocsr()
    b_ub = np.concatenate([np.maximum(grid.b, 0.0), need_b])
    bounds = np.empty((total, 2))
    bounds[:groups] = (
        np.column_stack([np.minimum(lower_w, 0.0), np.maximum(upper_w, 0.0)]) / 1000.0
    )
    bounds[groups:] = (0.0, np.inf)
    cost = np.concatenate(
        [np.zeros(groups), np.full(2 * zones, ZONE_MISS_COST), np.full(groups, NEED_MISS_COST)]
    )
    try:
        solution = solve_lp(
            cost, a_ub, b_ub, a_eq.tocsr(), zone_power_w / 1000.0, bounds, time_limit_s
        )
    except LpFailed as failure:
        raise AllocationFailed(f"slot-0 allocation: {failure}") from failure
    power_w = solution.x[:groups] * 1000.0
    slack = grid.b - grid.a @ power_w if grid.count else np.zeros(0)
    return power_w, slack <= BINDING_SLACK * np.maximum(1.0, np.abs(grid.b))
