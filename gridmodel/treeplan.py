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
    return TreeModel(sign, loss_p, loss_q, drop_f, drop_g, dq, grow, room, u_low, u_high)


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


def tree_step(
    tree: RadialTree,
    model: TreeModel,
    carrying: npt.NDArray[np.bool_],
    bus_nodes: IntArray,
    dp_lower_w: FloatArray,
    dp_upper_w: FloatArray,
    cap_w: float,
) -> tuple[FloatArray, int]:
    """The step dp (W per connection bus) that moves the total furthest in the model's
    direction within the linearised limits, the bounds and ``cap_w`` (the most sign *
    sum(dp) may reach). Zero where a program has no solution (the caller keeps its
    plan there), and the number of rows in the programs."""
    lo, hi = dp_lower_w / W_PER_KW, dp_upper_w / W_PER_KW
    step = np.zeros(len(bus_nodes))
    grid_of_bus = tree.lv_grid[bus_nodes]
    lv_nodes = np.flatnonzero(carrying & (tree.lv_grid >= 0))
    lv_grid_of_node = tree.lv_grid[lv_nodes]
    order = np.argsort(lv_grid_of_node, kind="stable")
    lv_nodes, lv_grid_of_node = lv_nodes[order], lv_grid_of_node[order]
    heads, starts = np.unique(lv_grid_of_node, return_index=True)
    ends = np.r_[starts[1:], len(lv_nodes)]
    # Columns of the MV program: one scale factor per LV grid (its step, in [0, 1]).
    ex_node, ex_p, ex_q = [], [], []
    coupling: list[tuple[int, FloatArray, FloatArray, FloatArray]] = []
    grid_steps: list[tuple[IntArray, FloatArray]] = []
    rows_used = 0
    for head, start, end in zip(heads, starts, ends, strict=True):
        members = np.flatnonzero(grid_of_bus == head)
        part = _part_lp(
            tree, model, lv_nodes[start:end], bus_nodes[members], lo[members], hi[members], abs(cap_w) / W_PER_KW
        )
        x = _solve(part.lp)
        rows_used += part.lp.a_ub.shape[0] + part.lp.a_eq.shape[0]
        if x is None:
            continue
        dp = x[: part.n_dp]
        if not np.any(dp):
            continue
        # The grid as seen from the MV node above it: P and Q into its transformer.
        at_head = int(np.flatnonzero(part.nodes == head)[0])
        k = len(part.nodes)
        f_head, g_head = x[part.n_dp + at_head], x[part.n_dp + k + at_head]
        p_in = f_head * (1 + model.loss_p[head])
        q_in = g_head + f_head * model.loss_q[head]
        # The grid's rows under scaling by a and an MV voltage change U:
        # a * (row at the solution, without voltage terms) + (sum of u coeffs) U <= b.
        u_cols = slice(part.n_dp + 2 * k, part.lp.a_ub.shape[1])
        a_u = part.lp.a_ub[:, u_cols]
        u_sum = np.asarray(a_u.sum(axis=1)).ravel()
        lhs = part.lp.a_ub @ x
        b = part.lp.b_ub
        # Voltage bounds of the grid's nodes: -u <= -u_low  (u = a u_sol + U).
        u_sol = x[u_cols][:k]
        lhs = np.r_[lhs, -u_sol, u_sol]
        u_sum = np.r_[u_sum, -np.ones(k), np.ones(k)]
        b = np.r_[b, -model.u_low[part.nodes], model.u_high[part.nodes]]
        # Only rows an MV drop could make bind (the cap row has no voltage term).
        tight = (np.abs(u_sum) > 0) & (b - lhs < np.abs(u_sum) * MAX_MV_DROP_PU) & np.isfinite(b)
        coupling.append((len(ex_node), lhs[tight], u_sum[tight], b[tight]))
        ex_node.append(int(tree.parent[head]))
        ex_p.append(p_in)
        ex_q.append(q_in)
        grid_steps.append((members, dp))

    mv_buses = np.flatnonzero(grid_of_bus < 0)
    mv_nodes = np.flatnonzero(carrying & (tree.lv_grid < 0))
    mv_nodes = mv_nodes[mv_nodes > 0]
    n_ex = len(ex_node)
    part = _part_lp(
        tree,
        model,
        mv_nodes,
        bus_nodes[mv_buses],
        lo[mv_buses],
        hi[mv_buses],
        abs(cap_w) / W_PER_KW,
        (
            np.array(ex_node, dtype=np.int64),
            np.array(ex_p),
            np.array(ex_q),
            np.zeros(n_ex),
            np.ones(n_ex),
        ),
    )
    lp = part.lp
    if coupling:
        k = len(part.nodes)
        slot = {int(node): i for i, node in enumerate(part.nodes)}
        rows, cols, vals, rhs = [], [], [], []
        n_rows = 0
        for column, lhs, u_sum, b in coupling:
            node = ex_node[column]
            u_col = part.n_dp + part.n_extra + 2 * k + slot[node] if node in slot else None
            count = len(lhs)
            r = n_rows + np.arange(count)
            rows += [r]
            cols += [np.full(count, part.n_dp + column)]
            vals += [lhs]
            if u_col is not None:
                rows += [r]
                cols += [np.full(count, u_col)]
                vals += [u_sum]
            rhs.append(b)
            n_rows += count
        extra_rows = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_rows, lp.a_ub.shape[1]),
        )
        lp = _Lp(
            lp.cost,
            sp.vstack([lp.a_ub, extra_rows], format="csr"),
            np.r_[lp.b_ub, np.concatenate(rhs)],
            lp.a_eq,
            lp.b_eq,
            lp.lower,
            lp.upper,
        )
    x = _solve(lp)
    rows_used += lp.a_ub.shape[0] + lp.a_eq.shape[0]
    if x is None:
        return step, rows_used
    step[mv_buses] = x[: part.n_dp] * W_PER_KW
    for column, (members, dp) in enumerate(grid_steps):
        step[members] = x[part.n_dp + column] * dp * W_PER_KW
    return np.clip(step, dp_lower_w, dp_upper_w), rows_used
