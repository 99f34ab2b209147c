"""One planning step on a radial network, without a solver inside the LV grids.

Per LV grid, every subtree's capacity is an exact LP value function of the
LinDistFlow model (``gridmodel.lindistflow``): the most power it can take as a function
of the voltage move at the node above it (concave, decreasing). These are built bottom
up on a grid of voltage moves, all LV grids at once, one tree level at a time.
Everything outside a subtree depends only on the subtree's total, so the functions
compose exactly: through a branch with drop a pu per kW (and voltage ratio rho), a
subtree whose capacity is phi(delta) at its node takes F with
F <= phi(rho delta_above + a F).

The MV tree is one small linear program (HiGHS) in which each LV grid is a column
bounded by its capacity function at its MV node's voltage (one row per linear piece).
Top-down, each node's power goes to its own buses first (no further losses) and the
rest to its children in proportion to their capacities, which keeps every subtree within
its capacity. The MV program weights each grid by what reaches its buses per kW into
its transformer, and finds the most power; an ask below that scales the whole step.

A whole-tree LP (``lindistflow.flow_program``) gives the same optimum to within the
tabulation and the split (0.7 % lower at 10,000 EVs on SimBench MV/LV), but takes
2-12 s in HiGHS at that size against ~0.1 s here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gridmodel.lindistflow import (
    W_PER_KW,
    FlowProgram,
    Lp,
    TreeModel,
    flow_program,
    solve_lp,
)
from gridmodel.radial import RadialTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Points of the voltage-drop grid on which each subtree's capacity is tabulated.
DROP_POINTS = 96


@dataclass(frozen=True)
class _Capacity:
    """Per LV node, tabulated over the adverse voltage move delta (pu, the drop when
    charging, the rise when discharging) at the node above it, on ``deltas``:
    ``through`` = the most power (kW, at the node's end of its feeding branch) its
    subtree can take; ``inside`` = the same at the node itself (own buses plus
    children). -inf where some limit in the subtree breaks even without power."""

    deltas: FloatArray
    through: FloatArray  # (nodes, points)
    inside: FloatArray  # (nodes, points)
    own_kw: FloatArray  # per node: what its own buses may still take


def _at(table: FloatArray, rows: IntArray, delta: FloatArray, step: float) -> FloatArray:
    """Row-wise linear interpolation of tabulated values at ``delta`` (uniform grid)."""
    position = np.clip(delta / step, 0.0, table.shape[1] - 1.0)
    low = np.minimum(position.astype(np.int64), table.shape[1] - 2)
    frac = position - low
    left, right = table[rows, low], table[rows, low + 1]
    with np.errstate(invalid="ignore"):
        value = np.where(frac > 0, left + frac * (right - left), left)
    beyond = delta > step * (table.shape[1] - 1) + 1e-12
    return np.where(beyond | ~np.isfinite(value), -np.inf, value)


def _capacities(
    tree: RadialTree,
    model: TreeModel,
    lv_nodes: npt.NDArray[np.bool_],
    own_kw: FloatArray,
) -> _Capacity:
    """Bottom-up over the LV trees: the capacity of every subtree as a function of the
    voltage move above it (exact LP value functions of the linear model, tabulated and
    linearly interpolated, which errs low because they are concave).

    Through a branch with drop ``a`` pu per kW, a subtree with capacity phi(delta) at
    its node takes F with F <= phi(rho delta_above + a F): its capacity seen from above
    is the curve ((delta - a phi(delta)) / rho, phi(delta)), capped by the branch's
    loading rows.
    """
    sign = model.sign
    room_v = np.maximum(-model.u_low if sign > 0 else model.u_high, 0.0)
    top = float(np.max(room_v[lv_nodes], initial=0.0))
    deltas = np.linspace(0.0, max(min(top, 0.3), 1e-6), DROP_POINTS)
    n = tree.size
    inside = np.full((n, DROP_POINTS), -np.inf)
    through = np.full((n, DROP_POINTS), -np.inf)
    children = np.zeros((n, DROP_POINTS))
    a = np.maximum(model.drop_f, 0.0)
    room = np.maximum(model.room, 0.0)
    grow_child, grow_parent = sign * model.grow[0], sign * model.grow[1]
    coef_parent = (1 + model.loss_p) + sign * model.dq[1] * model.loss_q
    carry = 1 + model.loss_p  # flow at the parent's end per kW at the child's end
    for level in reversed(tree.levels[1:]):
        nodes = level[lv_nodes[level]]
        if not len(nodes):
            continue
        phi = own_kw[nodes, None] + children[nodes]
        phi[deltas[None, :] > room_v[nodes, None] + 1e-12] = -np.inf
        inside[nodes] = phi
        # The curve (x, phi) with x = (delta - a phi) / rho, closed by (delta_last / rho, 0):
        # past it even no power breaks a limit below.
        finite = np.isfinite(phi)
        last = np.where(finite.any(axis=1), finite.sum(axis=1) - 1, -1)
        rho = model.rho[nodes, None]
        x = np.where(finite, (deltas[None, :] - a[nodes, None] * phi) / rho, np.inf)
        y = np.where(finite, phi, 0.0)
        rows = np.arange(len(nodes))
        end_x = np.where(last >= 0, deltas[np.maximum(last, 0)] / rho[:, 0], -np.inf)
        x = np.column_stack([x, np.full(len(nodes), np.inf)])
        y = np.column_stack([y, np.zeros(len(nodes))])
        x[rows, last + 1] = end_x
        y[rows, last + 1] = 0.0
        x = np.maximum.accumulate(np.where(np.isfinite(x), x, np.inf), axis=1)
        g = _curve_at(x, y, deltas)
        g[deltas[None, :] > end_x[:, None] + 1e-12] = -np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            cap_child = (room[0, nodes, None] - grow_child[nodes, None] * rho * deltas) / (
                1 + grow_child[nodes, None] * a[nodes, None]
            )
            cap_parent = (room[1, nodes, None] - grow_parent[nodes, None] * deltas) / coef_parent[
                nodes, None
            ]
        g = np.minimum(g, np.minimum(cap_child, cap_parent))
        g = np.where(g < -1e-9, -np.inf, np.maximum(g, 0.0))
        through[nodes] = g
        inner = nodes[tree.lv_grid[nodes] != nodes]  # heads feed the MV program instead
        np.add.at(
            children, tree.parent[inner], carry[inner, None] * g[tree.lv_grid[nodes] != nodes]
        )
    return _Capacity(deltas, through, inside, own_kw)


def _curve_at(x: FloatArray, y: FloatArray, queries: FloatArray) -> FloatArray:
    """Per row, the piecewise-linear curve through (x, y) (x non-decreasing, +inf
    padded) at the same ``queries``; -inf left of the first point."""
    n_rows, width = x.shape
    finite_x = np.where(np.isfinite(x), x, np.nan)
    span = float(np.nanmax(finite_x) - np.nanmin(finite_x)) if np.isfinite(finite_x).any() else 1.0
    offset = (np.arange(n_rows) * (span + float(np.max(np.abs(queries))) + 10.0))[:, None]
    base = float(np.nanmin(finite_x)) if np.isfinite(finite_x).any() else 0.0
    flat_x = np.where(np.isfinite(x), x - base, span + 5.0) + offset
    flat_q = (queries[None, :] - base) + offset
    index = np.searchsorted(flat_x.ravel(), flat_q.ravel(), side="right") - 1
    row = np.repeat(np.arange(n_rows), len(queries))
    index = np.clip(index, row * width, row * width + width - 2)
    fx, fy = flat_x.ravel(), y.ravel()
    x0, x1, y0, y1 = fx[index], fx[index + 1], fy[index], fy[index + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(x1 > x0, (flat_q.ravel() - x0) / (x1 - x0), 0.0)
    value = y0 + np.clip(t, 0.0, 1.0) * (y1 - y0)
    value = np.where(flat_q.ravel() < fx[row * width], -np.inf, value)
    return value.reshape(n_rows, len(queries))


def tree_step(
    tree: RadialTree,
    model: TreeModel,
    carrying: npt.NDArray[np.bool_],
    bus_nodes: IntArray,
    room_w: FloatArray,
    cap_w: float,
) -> tuple[FloatArray, int]:
    """The step (W per connection bus, each moving by 0 to ``room_w`` in the model's
    direction) that moves the total furthest within the linearised limits and
    ``cap_w`` (the most the step may add up to), and the rows of the MV program.
    Zero if the MV program has no solution (the caller keeps its plan)."""
    room_kw = np.maximum(room_w, 0.0) / W_PER_KW
    on_lv = tree.lv_grid[bus_nodes] >= 0
    lv_nodes = carrying & (tree.lv_grid >= 0)
    own = np.zeros(tree.size)
    np.add.at(own, bus_nodes[on_lv], room_kw[on_lv])
    capacity = _capacities(tree, model, lv_nodes, own)
    heads = np.flatnonzero(lv_nodes & (tree.lv_grid == np.arange(tree.size)))
    heads = heads[np.isfinite(capacity.through[heads, 0])]
    mv_buses = np.flatnonzero(~on_lv)
    # The program finds the most power; an ask below it is then met by scaling the
    # whole step (the feasible set is convex and holds zero), so every bus keeps the
    # same fraction of its share instead of an LP vertex picking some grids.
    mv = _mv_program(
        tree,
        model,
        carrying,
        capacity,
        heads,
        (bus_nodes[mv_buses], room_kw[mv_buses]),
        _delivered_per_kw(tree, model, lv_nodes, own, heads),
    )
    rows_used = mv.lp.a_ub.shape[0] + mv.lp.a_eq.shape[0]
    step = np.zeros(len(bus_nodes))
    x = solve_lp(mv.lp)
    if x is None:
        return step, rows_used
    step[mv_buses] = x[: mv.n_dp] * W_PER_KW
    k = len(mv.nodes)
    u_base = mv.n_dp + mv.n_extra + 2 * k
    u_mv = np.zeros(tree.size)
    u_mv[mv.nodes] = x[u_base : u_base + k]
    share = _shares(
        tree, model, capacity, lv_nodes, heads, x[mv.n_dp : mv.n_dp + len(heads)], u_mv
    )
    lv_buses = np.flatnonzero(on_lv)
    step[lv_buses] = model.sign * share[bus_nodes[lv_buses]] * room_kw[lv_buses] * W_PER_KW
    total = abs(float(step.sum()))
    if total > abs(cap_w):
        step *= abs(cap_w) / total
    return step, rows_used


def _delivered_per_kw(
    tree: RadialTree,
    model: TreeModel,
    lv_nodes: npt.NDArray[np.bool_],
    own: FloatArray,
    heads: IntArray,
) -> FloatArray:
    """Per LV grid, the power its buses take per kW into its transformer (the rest is
    the grid's losses), with every bus at its room: the MV program's weight, so that
    it prefers grids that lose less."""
    flow = np.where(lv_nodes, own, 0.0)
    for level in reversed(tree.levels[1:]):
        below = level[lv_nodes[level] & (tree.lv_grid[level] != level)]
        np.add.at(flow, tree.parent[below], (1 + model.loss_p[below]) * flow[below])
    total_own = np.zeros(tree.size)
    on_lv = np.flatnonzero(lv_nodes)
    np.add.at(total_own, tree.lv_grid[on_lv], own[on_lv])
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(flow[heads] > 0, total_own[heads] / flow[heads], 1.0)
    return np.clip(weight, 0.0, 1.0)


def _mv_program(
    tree: RadialTree,
    model: TreeModel,
    carrying: npt.NDArray[np.bool_],
    capacity: _Capacity,
    heads: IntArray,
    mv_buses: tuple[IntArray, FloatArray],
    weight: FloatArray,
) -> FlowProgram:
    """The MV tree's flow program with one column per LV grid (kW into its
    transformer, at most its capacity at its MV node's voltage move -sign * u), the
    MV buses' own steps (nodes, room in kW), and the objective: the most power to the
    buses (a grid's column counts at ``weight`` per kW)."""
    sign = model.sign
    mv_bus_nodes, mv_room_kw = mv_buses
    mv_nodes = np.flatnonzero(carrying & (tree.lv_grid < 0))
    mv_nodes = mv_nodes[mv_nodes > 0]
    program = flow_program(
        tree,
        model,
        mv_nodes,
        mv_bus_nodes,
        np.zeros(len(mv_room_kw)) if sign > 0 else -mv_room_kw,
        mv_room_kw if sign > 0 else np.zeros(len(mv_room_kw)),
        np.inf,
        (
            tree.parent[heads],
            sign * (1 + model.loss_p[heads]),
            sign * model.loss_q[heads],
            np.zeros(len(heads)),
            capacity.through[heads, 0],
        ),
    )
    lp = program.lp
    cost = np.zeros(len(lp.cost))
    cost[: program.n_dp] = -sign
    cost[program.n_dp : program.n_dp + len(heads)] = -weight
    rows = _capacity_rows(tree, model, capacity, heads, program)
    return FlowProgram(
        Lp(
            cost,
            sp.vstack([lp.a_ub, rows[0]], format="csr"),
            np.r_[lp.b_ub, rows[1]],
            lp.a_eq,
            lp.b_eq,
            lp.lower,
            lp.upper,
        ),
        program.nodes,
        program.n_dp,
        program.n_extra,
        program.boundary,
    )


def _capacity_rows(
    tree: RadialTree,
    model: TreeModel,
    capacity: _Capacity,
    heads: IntArray,
    program: FlowProgram,
) -> tuple[sp.csr_matrix, FloatArray]:
    """Rows c_g <= capacity_g(-sign * u_node): one per linear piece of each LV grid's
    (concave) capacity function (collinear pieces dropped), and the move bound
    -sign * u_node <= the function's last point. Grids fed from the slack are bounded by
    their column's upper bound alone."""
    sign = model.sign
    deltas = capacity.deltas
    step = float(deltas[1] - deltas[0])
    k = len(program.nodes)
    slot = {int(node): i for i, node in enumerate(program.nodes)}
    u_base = program.n_dp + program.n_extra + 2 * k
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []
    rhs: list[FloatArray] = []
    n_rows = 0
    for column, head in enumerate(heads):
        node = int(tree.parent[head])
        if node not in slot:
            continue
        values = capacity.through[head]
        last = int(np.flatnonzero(np.isfinite(values))[-1])
        slopes = np.diff(values[: last + 1]) / step
        bends = np.abs(np.diff(slopes)) > 1e-9 * (1 + np.abs(slopes[1:]))
        pieces = np.flatnonzero(np.r_[True, bends]) if len(slopes) else np.zeros(0, np.int64)
        r = n_rows + np.arange(len(pieces) + 1)
        u_col = u_base + slot[node]
        rows += [r[:-1], r[:-1], r[-1:]]
        cols += [
            np.full(len(pieces), program.n_dp + column),
            np.full(len(pieces), u_col),
            np.array([u_col]),
        ]
        vals += [np.ones(len(pieces)), sign * slopes[pieces], np.array([-sign])]
        rhs += [values[pieces] - slopes[pieces] * deltas[pieces], np.array([deltas[last]])]
        n_rows += len(pieces) + 1
    matrix = sp.csr_matrix(
        (
            np.concatenate([np.zeros(0), *vals]),
            (
                np.concatenate([np.zeros(0, np.int64), *rows]),
                np.concatenate([np.zeros(0, np.int64), *cols]),
            ),
        ),
        shape=(n_rows, len(program.lp.cost)),
    )
    return matrix, np.concatenate([np.zeros(0), *rhs])


def _shares(
    tree: RadialTree,
    model: TreeModel,
    capacity: _Capacity,
    lv_nodes: npt.NDArray[np.bool_],
    heads: IntArray,
    head_kw: FloatArray,
    u_mv: FloatArray,
) -> FloatArray:
    """Top-down through the LV grids, given each grid's power ``head_kw`` and the MV
    voltage changes ``u_mv``: the fraction of its room each node's own buses take.

    A node's power goes to its own buses first (no further losses), the rest to its
    children in proportion to their capacities at the node's voltage move. Any split
    with every child within its capacity is feasible, so this one keeps the plan inside
    the model while losing least on the way."""
    sign = model.sign
    step = float(capacity.deltas[1] - capacity.deltas[0])
    a = np.maximum(model.drop_f, 0.0)
    flow = np.zeros(tree.size)
    delta = np.zeros(tree.size)
    own_share = np.zeros(tree.size)
    child_share = np.zeros(tree.size)  # of each child's capacity
    delta_above = np.maximum(-sign * u_mv[tree.parent[heads]], 0.0)
    reach = _at(capacity.through, heads, delta_above, step)
    flow[heads] = np.clip(np.minimum(head_kw, reach), 0.0, None)
    delta[heads] = model.rho[heads] * delta_above + a[heads] * flow[heads]
    is_head = np.zeros(tree.size, dtype=bool)
    is_head[heads] = True
    for level in tree.levels[1:]:
        nodes = level[lv_nodes[level]]
        if not len(nodes):
            continue
        inner = nodes[~is_head[nodes]]
        above = tree.parent[inner]
        reach = _at(capacity.through, inner, delta[above], step)
        flow[inner] = child_share[above] * np.maximum(reach, 0.0)
        delta[inner] = model.rho[inner] * delta[above] + a[inner] * flow[inner]
        own = capacity.own_kw[nodes]
        taken = np.minimum(own, flow[nodes])
        children = _at(capacity.inside, nodes, delta[nodes], step) - own
        with np.errstate(divide="ignore", invalid="ignore"):
            own_share[nodes] = np.where(own > 0, taken / own, 0.0)
            rest = flow[nodes] - taken
            child_share[nodes] = np.where(children > 0, np.clip(rest / children, 0.0, 1.0), 0.0)
    return own_share


def whole_tree_step(
    tree: RadialTree,
    model: TreeModel,
    carrying: npt.NDArray[np.bool_],
    bus_nodes: IntArray,
    room_w: FloatArray,
    cap_w: float,
) -> tuple[FloatArray, int]:
    """As ``tree_step``, with one LinDistFlow program over the whole tree (HiGHS
    interior point): the reference the capacity functions are measured against; it
    takes seconds at 10,000 vehicles."""
    sign = model.sign
    room_kw = np.maximum(room_w, 0.0) / W_PER_KW
    nodes = np.flatnonzero(carrying)
    nodes = nodes[nodes > 0]
    program = flow_program(
        tree,
        model,
        nodes,
        bus_nodes,
        np.zeros(len(room_kw)) if sign > 0 else -room_kw,
        room_kw if sign > 0 else np.zeros(len(room_kw)),
        abs(cap_w) / W_PER_KW,
    )
    x = solve_lp(program.lp, "ipm")
    rows_used = program.lp.a_ub.shape[0] + program.lp.a_eq.shape[0]
    if x is None:
        return np.zeros(len(bus_nodes)), rows_used
    step = np.clip(x[: program.n_dp], -room_kw, room_kw) * W_PER_KW
    return step, rows_used
