"""One planning step on a radial network: sparse linear programs in branch flows
(LinDistFlow), calibrated at the last AC solution, solved per low-voltage grid.

Variables around an AC operating point (W in the model, kW in the solver):

* ``dp_k``: the extra power at each connection bus (+ = load);
* ``F_c``, ``G_c``: the extra active and reactive power into node ``c`` through the
  branch that feeds it, measured at the node's end;
* ``u_c``: the change of node ``c``'s voltage magnitude in pu (0 at the slack).

Flows add up toward the root, each branch adding its marginal losses (from the AC
flows: d loss / dP = 2 r P / V^2 for active, 2 x P / V^2 for reactive power):

    F_c = sum(dp at c) + sum over children d of (1 + 2 r_d P_d / V_d^2) F_d
    G_c = sum over children d of (G_d + 2 x_d P_d / V_d^2 F_d)

and voltages drop along each branch as in DistFlow, linearised:

    u_c = u_parent(c) - (r_c F_c' + x_c G_c') / (Vn_c^2 v_c)      (' = branch midpoint)

Each branch end keeps |S| <= sqrt(3) I_rated Vn v, linearised in P, Q and the end's
voltage (a voltage drop raises the current). All offsets are the AC values at the
operating point, so the model is exact there and wrong only to second order in the
step; the planner verifies every step with the AC check.

Buses off every path from a vehicle to the root see no change of flow: only their
voltage moves, with their attachment point on that path, so their limits become bounds
on that point's ``u``, and the programs span only the paths that carry vehicles.

Solving: one program for the whole tree is sparse but large (35,000 columns at 10,000
vehicles: 2-12 s in HiGHS). It splits at the MV/LV transformers instead: each LV grid's
program (a few hundred columns, ~2 ms) with its transformer's MV voltage held, then
one program over the MV tree that scales each LV grid's step by a factor in [0, 1]
(MV limits, the MV voltage drop through the LV grids' tightest rows, the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import highspy
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gridmodel.limits import GridLimits
from gridmodel.powerflow import FlowResult
from gridmodel.radial import LINE, RadialTree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Variables are in kW inside the solver: W beside pu-per-W slopes is ill-conditioned.
W_PER_KW = 1000.0
SQRT3 = math.sqrt(3.0)
#: The MV voltage never drops this far within one step: LV rows that could not bind
#: even then are left out of the MV program.
MAX_MV_DROP_PU = 0.1


@dataclass(frozen=True)
class TreeModel:
    """The linearised tree at one AC state, per node (arrays over all tree nodes), for
    moves in direction ``sign`` (+1 charging, -1 discharging)."""

    sign: float
    loss_p: FloatArray  # marginal active losses of the feeding branch, per W
    loss_q: FloatArray  # marginal reactive losses, var per W
    drop_f: FloatArray  # voltage drop (pu) per kW of F through the feeding branch
    drop_g: FloatArray  # voltage drop (pu) per kvar of G
    # Per branch end (0 = child end, 1 = parent end): the row
    # sign * dP + dq * dQ - grow * u <= room   (kW, pu).
    dq: FloatArray  # shape (2, n)
    grow: FloatArray  # shape (2, n), kW per pu
    room: FloatArray  # shape (2, n), kW
    u_low: FloatArray  # bounds on u per node (pu), including hanging buses
    u_high: FloatArray


def carrying_nodes(tree: RadialTree, bus_nodes: IntArray) -> npt.NDArray[np.bool_]:
    """Nodes on a path from a connection bus to the root (their flows change)."""
    carrying = np.zeros(tree.size, dtype=bool)
    carrying[bus_nodes] = True
    for level in reversed(tree.levels[1:]):
        carrying[tree.parent[level[carrying[level]]]] = True
    return carrying


def linearise(
    tree: RadialTree,
    result: FlowResult,
    carrying: npt.NDArray[np.bool_],
    limits: GridLimits,
    sign: float,
) -> TreeModel:
    """The tree model at the AC state ``result`` (which must carry branch flows)."""
    flows = result.flows
    if flows is None:
        raise ValueError("the AC result carries no branch flows")
    parent = tree.parent
    v = result.vm_pu[tree.bus_row]
    is_line = tree.kind == LINE
    forward = tree.parent_is_from
    line_at, trafo_at = tree.element * is_line, tree.element * ~is_line
    from_end = np.where(is_line, flows.line_from[line_at], flows.trafo_hv[trafo_at])
    to_end = np.where(is_line, flows.line_to[line_at], flows.trafo_lv[trafo_at])
    s_parent = np.where(forward, from_end, to_end)
    s_child = -np.where(forward, to_end, from_end)
    s_parent[0] = s_child[0] = 0.0  # the root has no feeding branch
    v_parent = v[np.maximum(parent, 0)]

    volt2 = (tree.vn_child_v * v) ** 2
    loss_p = 2 * tree.r_ohm * s_child.real / volt2
    loss_q = 2 * tree.x_ohm * s_child.real / volt2
    per_kw = W_PER_KW / (tree.vn_child_v**2 * v)
    drop_f = per_kw * (tree.r_ohm * (1 + loss_p / 2) + tree.x_ohm * loss_q / 2)
    drop_g = per_kw * tree.x_ohm

    limit = np.where(is_line, limits.max_line_loading_percent, limits.max_trafo_loading_percent)
    dq, grow, room = np.zeros((2, tree.size)), np.zeros((2, tree.size)), np.zeros((2, tree.size))
    over = np.full(tree.size, -np.inf)  # for branches off the carrying paths
    for end, (s_end, rated, vn_end, node_v) in enumerate(
        (
            (s_child, tree.rated_child_a, tree.vn_child_v, v),
            (s_parent, tree.rated_parent_a, tree.vn_parent_v, v_parent),
        )
    ):
        s_max = limit / 100 * SQRT3 * rated * vn_end * node_v  # VA at this voltage
        q = s_end.imag
        p_max = np.sqrt(np.maximum(s_max**2 - q**2, (0.01 * s_max) ** 2))
        # sign (P + dP) <= sqrt(Smax(v)^2 - (Q + dQ)^2), to first order.
        with np.errstate(divide="ignore", invalid="ignore"):  # the root: no branch
            dq[end] = np.nan_to_num(q / p_max)
            grow[end] = np.nan_to_num(s_max / p_max * s_max / node_v / W_PER_KW)
            # A branch without extra flow still carries more current at a lower voltage.
            over = np.fmax(over, (np.abs(s_end) / s_max - 1) * node_v)
        room[end] = (p_max - sign * s_end.real) / W_PER_KW

    # Limits of buses hanging off the carrying paths bind their attachment's voltage.
    attach = np.arange(tree.size, dtype=np.int64)
    for level in tree.levels[1:]:
        off = level[~carrying[level]]
        attach[off] = attach[parent[off]]
    u_low = np.full(tree.size, -np.inf)
    u_high = np.full(tree.size, np.inf)
    np.maximum.at(u_low, attach, limits.vm_pu_min - v)
    np.minimum.at(u_high, attach, limits.vm_pu_max - v)
    off_nodes = np.flatnonzero(~carrying)
    off_nodes = off_nodes[off_nodes > 0]
    np.maximum.at(u_low, attach[off_nodes], over[off_nodes])
    # Steps start from AC-feasible plans: a limit already within its margin blocks any
    # further move toward it (zero stays feasible); it is not repaired here.
    return TreeModel(
        sign,
        loss_p,
        loss_q,
        drop_f,
        drop_g,
        dq,
        grow,
        np.maximum(room, 0.0),
        np.minimum(u_low, 0.0),
        np.maximum(u_high, 0.0),
    )


@dataclass(frozen=True)
class _Lp:
    """A linear program: min cost @ x, a_ub @ x <= b_ub, a_eq @ x = b_eq, bounds."""

    cost: FloatArray
    a_ub: sp.csr_matrix
    b_ub: FloatArray
    a_eq: sp.csr_matrix
    b_eq: FloatArray
    lower: FloatArray
    upper: FloatArray


def _solve(lp: _Lp) -> FloatArray | None:
    """The optimal x (HiGHS dual simplex: these programs are small), or None."""
    a = sp.vstack([lp.a_ub, lp.a_eq], format="csc")
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = a.shape[1], a.shape[0]
    model.col_cost_ = lp.cost
    model.col_lower_, model.col_upper_ = lp.lower, lp.upper
    model.row_lower_ = np.r_[np.full(len(lp.b_ub), -highspy.kHighsInf), lp.b_eq]
    model.row_upper_ = np.r_[lp.b_ub, lp.b_eq]
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = a.indptr
    model.a_matrix_.index_ = a.indices
    model.a_matrix_.value_ = a.data
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.passModel(model)
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(solver.getSolution().col_value, dtype=float)


@dataclass(frozen=True)
class _Part:
    """The program of one part of the tree, and where its pieces sit in it."""

    lp: _Lp
    nodes: IntArray  # kept nodes (F, G, u columns in this order)
    n_dp: int  # dp columns come first
    n_extra: int  # then extra (group) columns
    boundary: IntArray  # nodes outside the part whose u is a column fixed at 0


def _part_lp(
    tree: RadialTree,
    model: TreeModel,
    nodes: IntArray,
    bus_nodes: IntArray,
    dp_lower: FloatArray,
    dp_upper: FloatArray,
    cap_kw: float,
    extra: tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray] | None = None,
) -> _Part:
    """The program over ``nodes`` (non-root, each with F, G, u) with connection buses
    at ``bus_nodes`` (dp in kW within the bounds) and the sum of sign * dp (plus extra
    columns) at most ``cap_kw``. ``extra`` = (node, p_kw, q_kvar, lower, upper): extra
    columns, each adding p_kw and q_kvar per unit at a node. Parents outside ``nodes``
    enter as boundary u columns fixed at 0 (the slack, or an MV node held)."""
    sign = model.sign
    k, n_dp = len(nodes), len(bus_nodes)
    ex_node, ex_p, ex_q, ex_lo, ex_hi = extra or (
        np.zeros(0, dtype=np.int64),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
        np.zeros(0),
    )
    n_ex = len(ex_node)
    slot = {int(node): i for i, node in enumerate(nodes)}
    parents = tree.parent[nodes]
    parent_slot = np.array([slot.get(int(p), -1) for p in parents], dtype=np.int64)
    boundary = np.unique(parents[parent_slot < 0])
    boundary_slot = {int(b): i for i, b in enumerate(boundary)}
    f0, g0, u0 = n_dp + n_ex, n_dp + n_ex + k, n_dp + n_ex + 2 * k
    b0 = u0 + k
    n_var = b0 + len(boundary)
    # The voltage column of each node's parent: inside the part, or a boundary column.
    parent_u = np.where(
        parent_slot >= 0,
        u0 + parent_slot,
        b0 + np.array([boundary_slot.get(int(p), 0) for p in parents], dtype=np.int64),
    )
    inner = parent_slot >= 0
    ar = np.arange(k)
    bus_slot = np.array([slot[int(b)] for b in bus_nodes], dtype=np.int64)
    # Extra columns at the root (an LV grid fed straight from the slack) move no flow.
    ex_in = np.array([int(b) in slot for b in ex_node], dtype=bool)
    ex_slot = np.array([slot[int(b)] for b in ex_node[ex_in]], dtype=np.int64)
    ex_cols = n_dp + np.flatnonzero(ex_in)
    loss_p, loss_q = model.loss_p[nodes], model.loss_q[nodes]

    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[FloatArray] = []

    def add(r: IntArray, c: IntArray, value: FloatArray | float) -> None:
        rows.append(np.asarray(r, dtype=np.int64))
        cols.append(np.asarray(c, dtype=np.int64))
        vals.append(np.broadcast_to(np.asarray(value, dtype=float), np.shape(r)).copy())

    # Equalities: active flow balance, reactive flow balance, voltage drop (k each).
    add(ar, f0 + ar, 1.0)
    add(bus_slot, np.arange(n_dp), -1.0)
    add(ex_slot, ex_cols, -ex_p[ex_in])
    add(parent_slot[inner], f0 + ar[inner], -(1 + loss_p[inner]))
    add(k + ar, g0 + ar, 1.0)
    add(k + ex_slot, ex_cols, -ex_q[ex_in])
    add(k + parent_slot[inner], g0 + ar[inner], -1.0)
    add(k + parent_slot[inner], f0 + ar[inner], -loss_q[inner])
    add(2 * k + ar, u0 + ar, 1.0)
    add(2 * k + ar, parent_u, -1.0)
    add(2 * k + ar, f0 + ar, model.drop_f[nodes])
    add(2 * k + ar, g0 + ar, model.drop_g[nodes])
    a_eq = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(3 * k, n_var),
    )
    rows, cols, vals = [], [], []
    # Inequalities: the child and parent end of every branch, then the cap.
    for end, d_p, d_q_f, u_col in ((0, 1.0, 0.0, u0 + ar), (1, 1 + loss_p, loss_q, parent_u)):
        row = end * k + ar
        dq = model.dq[end, nodes]
        add(row, f0 + ar, sign * np.broadcast_to(d_p, (k,)) + dq * d_q_f)
        add(row, g0 + ar, dq)
        add(row, u_col, -model.grow[end, nodes])
    add(np.full(n_dp, 2 * k), np.arange(n_dp), sign)
    add(np.full(n_ex, 2 * k), n_dp + np.arange(n_ex), sign * ex_p)
    a_ub = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(2 * k + 1, n_var),
    )
    b_ub = np.r_[model.room[0, nodes], model.room[1, nodes], cap_kw]
    lower = np.r_[dp_lower, ex_lo, np.full(2 * k, -np.inf), model.u_low[nodes], np.zeros(len(boundary))]
    upper = np.r_[dp_upper, ex_hi, np.full(2 * k, np.inf), model.u_high[nodes], np.zeros(len(boundary))]
    lower = np.minimum(lower, upper)  # a limit broken at the operating point: hold it
    cost = np.zeros(n_var)
    cost[:n_dp] = -sign
    cost[n_dp : n_dp + n_ex] = -sign * ex_p
    return _Part(_Lp(cost, a_ub, b_ub, a_eq, np.zeros(3 * k), lower, upper), nodes, n_dp, n_ex, boundary)


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
    its node takes F with F <= phi(delta_above + a F): its capacity seen from above is
    the curve (delta - a phi(delta), phi(delta)), capped by the branch's loading rows.
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
        # The curve (x, phi) with x = delta - a phi, closed by (delta_last, 0).
        finite = np.isfinite(phi)
        last = np.where(finite.any(axis=1), finite.sum(axis=1) - 1, -1)
        x = np.where(finite, deltas[None, :] - a[nodes, None] * phi, np.inf)
        y = np.where(finite, phi, 0.0)
        rows = np.arange(len(nodes))
        end_x = np.where(last >= 0, deltas[np.maximum(last, 0)], -np.inf)
        x = np.column_stack([x, np.full(len(nodes), np.inf)])
        y = np.column_stack([y, np.zeros(len(nodes))])
        x[rows, last + 1] = end_x
        y[rows, last + 1] = 0.0
        x = np.maximum.accumulate(np.where(np.isfinite(x), x, np.inf), axis=1)
        g = _curve_at(x, y, deltas)
        g[deltas[None, :] > end_x[:, None] + 1e-12] = -np.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            cap_child = (room[0, nodes, None] - grow_child[nodes, None] * deltas) / (
                1 + grow_child[nodes, None] * a[nodes, None]
            )
            cap_parent = (room[1, nodes, None] - grow_parent[nodes, None] * deltas) / coef_parent[
                nodes, None
            ]
        g = np.minimum(g, np.minimum(cap_child, cap_parent))
        g = np.where(g < -1e-9, -np.inf, np.maximum(g, 0.0))
        through[nodes] = g
        inner = nodes[tree.lv_grid[nodes] != nodes]  # heads feed the MV program instead
        np.add.at(children, tree.parent[inner], carry[inner, None] * g[tree.lv_grid[nodes] != nodes])
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

    LV grids: capacity functions bottom-up (``_capacities``), no solver. MV: one linear
    program in which each LV grid is a column bounded by its capacity function at its
    MV node's voltage (concave, so one row per linear piece). Then top-down, each
    subtree passes on the same fraction of its capacity to its own buses and children.
    Zero if the MV program has no solution (the caller keeps its plan).
    """
    sign = model.sign
    room_kw = np.maximum(room_w, 0.0) / W_PER_KW
    on_lv = tree.lv_grid[bus_nodes] >= 0
    lv_nodes = carrying & (tree.lv_grid >= 0)
    own = np.zeros(tree.size)
    np.add.at(own, bus_nodes[on_lv], room_kw[on_lv])
    cap = _capacities(tree, model, lv_nodes, own)
    deltas = cap.deltas
    step_delta = float(deltas[1] - deltas[0])
    heads = np.flatnonzero(lv_nodes & (tree.lv_grid == np.arange(tree.size)))
    ok = np.isfinite(cap.through[heads, 0])
    heads = heads[ok]

    mv_buses = np.flatnonzero(~on_lv)
    mv_nodes = np.flatnonzero(carrying & (tree.lv_grid < 0))
    mv_nodes = mv_nodes[mv_nodes > 0]
    n_heads = len(heads)
    part = _part_lp(
        tree,
        model,
        mv_nodes,
        bus_nodes[mv_buses],
        np.where(sign > 0, 0.0, -room_kw[mv_buses]),
        np.where(sign > 0, room_kw[mv_buses], 0.0),
        abs(cap_w) / W_PER_KW,
        (
            tree.parent[heads],
            sign * (1 + model.loss_p[heads]),
            sign * model.loss_q[heads],
            np.zeros(n_heads),
            cap.through[heads, 0],
        ),
    )
    lp = part.lp
    # Each LV grid's column c <= its capacity at the MV node's move delta = -sign u:
    # one row per linear piece (collinear pieces dropped), c + sign slope u <= b.
    k = len(part.nodes)
    slot = {int(node): i for i, node in enumerate(part.nodes)}
    u_base = part.n_dp + part.n_extra + 2 * k
    rows, cols, vals, rhs = [], [], [], []
    n_rows = 0
    for column, head in enumerate(heads):
        node = int(tree.parent[head])
        if node not in slot:
            continue  # fed from the slack: the column's bound says it all
        values = cap.through[head]
        finite = np.flatnonzero(np.isfinite(values))
        last = int(finite[-1])
        slopes = np.diff(values[: last + 1]) / step_delta
        keep = np.r_[True, np.abs(np.diff(slopes)) > 1e-9 * (1 + np.abs(slopes[1:]))] if len(slopes) else np.zeros(0, dtype=bool)
        pieces = np.flatnonzero(keep)
        count = len(pieces) + 1
        r = n_rows + np.arange(count)
        u_col = u_base + slot[node]
        rows += [r[:-1], r[:-1], r[-1:]]
        cols += [np.full(len(pieces), part.n_dp + column), np.full(len(pieces), u_col), [u_col]]
        vals += [np.ones(len(pieces)), sign * slopes[pieces], [-sign]]
        rhs += [values[pieces] - slopes[pieces] * deltas[pieces], [deltas[last]]]
        n_rows += count
    # Objective: the most power (grid columns count at their transformer, kW).
    cost = np.zeros(len(lp.cost))
    cost[: part.n_dp] = -sign
    cost[part.n_dp : part.n_dp + n_heads] = -1.0
    a_ub, b_ub = lp.a_ub, lp.b_ub
    if n_rows:
        extra = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_rows, lp.a_ub.shape[1]),
        )
        a_ub, b_ub = sp.vstack([a_ub, extra], format="csr"), np.r_[b_ub, np.concatenate(rhs)]
    lp = _Lp(cost, a_ub, b_ub, lp.a_eq, lp.b_eq, lp.lower, lp.upper)
    x = _solve(lp)
    rows_used = lp.a_ub.shape[0] + lp.a_eq.shape[0]
    step = np.zeros(len(bus_nodes))
    if x is None:
        return step, rows_used
    step[mv_buses] = x[: part.n_dp] * W_PER_KW

    # Top-down through the LV grids: flow F and move delta at each node.
    flow = np.zeros(tree.size)
    delta = np.zeros(tree.size)
    share = np.zeros(tree.size)  # fraction of its capacity each node passes on
    u_mv = np.zeros(tree.size)
    u_mv[part.nodes] = x[u_base : u_base + k]
    flow[heads] = np.minimum(x[part.n_dp : part.n_dp + n_heads], cap.through[heads, 0])
    delta_above = np.maximum(-sign * u_mv[tree.parent[heads]], 0.0)
    flow[heads] = np.clip(
        np.minimum(flow[heads], _at(cap.through, heads, delta_above, step_delta)), 0.0, None
    )
    delta[heads] = delta_above + model.drop_f[heads] * flow[heads]
    is_head = np.zeros(tree.size, dtype=bool)
    is_head[heads] = True
    for level in tree.levels[1:]:
        nodes = level[lv_nodes[level]]
        if not len(nodes):
            continue
        inner = nodes[~is_head[nodes]]
        above = tree.parent[inner]
        reach = _at(cap.through, inner, delta[above], step_delta)
        flow[inner] = share[above] * np.maximum(reach, 0.0)
        delta[inner] = delta[above] + np.maximum(model.drop_f[inner], 0.0) * flow[inner]
        capacity = _at(cap.inside, nodes, delta[nodes], step_delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            share[nodes] = np.where(capacity > 0, np.clip(flow[nodes] / capacity, 0.0, 1.0), 0.0)
    lv_buses = np.flatnonzero(on_lv)
    step[lv_buses] = sign * share[bus_nodes[lv_buses]] * room_kw[lv_buses] * W_PER_KW
    return step, rows_used
