"""LinDistFlow: a radial network linearised at an AC solution, as sparse rows in
branch flows.

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

    u_c = rho_c u_parent(c) - (r_c F_c' + x_c G_c') / (Vn_c^2 v_c)   (' = branch midpoint)

with rho_c = v_parent / v_c along a line (from v_c^2 = v_p^2 - 2 (r P + x Q) / Vn^2)
and 1 through a transformer (its ratio is not modelled).

Each branch end keeps |S| <= sqrt(3) I_rated Vn v, linearised in P, Q and the end's
voltage (a voltage drop raises the current). All offsets are the AC values at the
operating point, so the model is exact there and wrong only to second order in the
step; the planner verifies every step with the AC check.

Buses off every path from a vehicle to the root see no change of flow: only their
voltage moves, with their attachment point on that path, so their limits become bounds
on that point's ``u``, and the programs span only the paths that carry vehicles.
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


@dataclass(frozen=True)
class TreeModel:
    """The linearised tree at one AC state, per node (arrays over all tree nodes), for
    moves in direction ``sign`` (+1 charging, -1 discharging)."""

    sign: float
    loss_p: FloatArray  # marginal active losses of the feeding branch, per W
    loss_q: FloatArray  # marginal reactive losses, var per W
    drop_f: FloatArray  # voltage drop (pu) per kW of F through the feeding branch
    drop_g: FloatArray  # voltage drop (pu) per kvar of G
    rho: FloatArray  # d u_c / d u_parent
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
    rho = np.where(is_line, v_parent / v, 1.0)
    rho[0] = 1.0

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
        rho,
        dq,
        grow,
        np.maximum(room, 0.0),
        np.minimum(u_low, 0.0),
        np.maximum(u_high, 0.0),
    )


def predict_u(
    tree: RadialTree, model: TreeModel, bus_nodes: IntArray, dp_w: FloatArray
) -> FloatArray:
    """The model's voltage change per node (pu) for extra powers ``dp_w`` (W, + = load)
    at ``bus_nodes``: flows summed bottom-up, drops accumulated top-down."""
    flow = np.zeros(tree.size)
    np.add.at(flow, bus_nodes, dp_w / W_PER_KW)
    reactive = np.zeros(tree.size)
    for level in reversed(tree.levels[1:]):
        np.add.at(flow, tree.parent[level], (1 + model.loss_p[level]) * flow[level])
        np.add.at(
            reactive, tree.parent[level], reactive[level] + model.loss_q[level] * flow[level]
        )
    u = np.zeros(tree.size)
    for level in tree.levels[1:]:
        drop = model.drop_f[level] * flow[level] + model.drop_g[level] * reactive[level]
        u[level] = model.rho[level] * u[tree.parent[level]] - drop
    return u


@dataclass(frozen=True)
class Lp:
    """A linear program: min cost @ x, a_ub @ x <= b_ub, a_eq @ x = b_eq, bounds."""

    cost: FloatArray
    a_ub: sp.csr_matrix
    b_ub: FloatArray
    a_eq: sp.csr_matrix
    b_eq: FloatArray
    lower: FloatArray
    upper: FloatArray


def solve_lp(lp: Lp, solver_name: str = "simplex") -> FloatArray | None:
    """The optimal x, or None. ``solver_name`` is HiGHS's: "simplex" (the default,
    for the small MV programs) or "ipm" (for a whole-tree program)."""
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
    solver = highspy.Highs()  # type: ignore[no-untyped-call]
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("solver", solver_name)
    solver.passModel(model)
    solver.run()
    if solver.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(solver.getSolution().col_value, dtype=float)


@dataclass(frozen=True)
class FlowProgram:
    """The program of one part of the tree, and where its pieces sit in it."""

    lp: Lp
    nodes: IntArray  # kept nodes (F, G, u columns in this order)
    n_dp: int  # dp columns come first
    n_extra: int  # then extra (group) columns
    boundary: IntArray  # nodes outside the part whose u is a column fixed at 0


class _Triplets:
    """Sparse matrix entries collected block by block."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []

    def add(self, rows: IntArray, cols: IntArray | int, value: FloatArray | float) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self.rows.append(rows)
        self.cols.append(np.broadcast_to(np.asarray(cols, dtype=np.int64), rows.shape).copy())
        self.vals.append(np.broadcast_to(np.asarray(value, dtype=float), rows.shape).copy())

    def matrix(self, shape: tuple[int, int]) -> sp.csr_matrix:
        return sp.csr_matrix(
            (
                np.concatenate([np.zeros(0), *self.vals]),
                (
                    np.concatenate([np.zeros(0, np.int64), *self.rows]),
                    np.concatenate([np.zeros(0, np.int64), *self.cols]),
                ),
            ),
            shape=shape,
        )


@dataclass(frozen=True)
class _Columns:
    """Where the columns of a flow program sit: dp, extra, then F, G and u per node,
    then one fixed u per boundary node."""

    n_dp: int
    n_extra: int
    k: int
    parent_slot: IntArray  # per node, its parent's position among the nodes, or -1
    parent_u: IntArray  # per node, the column of its parent's voltage
    n_boundary: int

    @property
    def f0(self) -> int:
        return self.n_dp + self.n_extra

    @property
    def g0(self) -> int:
        return self.f0 + self.k

    @property
    def u0(self) -> int:
        return self.g0 + self.k

    @property
    def count(self) -> int:
        return self.u0 + self.k + self.n_boundary


def _columns(
    tree: RadialTree, nodes: IntArray, n_dp: int, n_extra: int
) -> tuple[_Columns, dict[int, int], IntArray]:
    slot = {int(node): i for i, node in enumerate(nodes)}
    parents = tree.parent[nodes]
    parent_slot = np.array([slot.get(int(p), -1) for p in parents], dtype=np.int64)
    boundary = np.unique(parents[parent_slot < 0])
    boundary_slot = {int(b): i for i, b in enumerate(boundary)}
    k = len(nodes)
    u0, b0 = n_dp + n_extra + 2 * k, n_dp + n_extra + 3 * k
    parent_u = np.where(
        parent_slot >= 0,
        u0 + parent_slot,
        b0 + np.array([boundary_slot.get(int(p), 0) for p in parents], dtype=np.int64),
    )
    return _Columns(n_dp, n_extra, k, parent_slot, parent_u, len(boundary)), slot, boundary


def _balances(
    model: TreeModel,
    nodes: IntArray,
    cols: _Columns,
    bus_slot: IntArray,
    extra: tuple[IntArray, IntArray, FloatArray, FloatArray],
) -> sp.csr_matrix:
    """Equalities: active flow balance, reactive flow balance, voltage drop (k each)."""
    ex_slot, ex_cols, ex_p, ex_q = extra
    k, ar = cols.k, np.arange(cols.k)
    inner = cols.parent_slot >= 0
    up = cols.parent_slot[inner]
    t = _Triplets()
    t.add(ar, cols.f0 + ar, 1.0)
    t.add(bus_slot, np.arange(cols.n_dp), -1.0)
    t.add(ex_slot, ex_cols, -ex_p)
    t.add(up, cols.f0 + ar[inner], -(1 + model.loss_p[nodes][inner]))
    t.add(k + ar, cols.g0 + ar, 1.0)
    t.add(k + ex_slot, ex_cols, -ex_q)
    t.add(k + up, cols.g0 + ar[inner], -1.0)
    t.add(k + up, cols.f0 + ar[inner], -model.loss_q[nodes][inner])
    t.add(2 * k + ar, cols.u0 + ar, 1.0)
    t.add(2 * k + ar, cols.parent_u, -model.rho[nodes])
    t.add(2 * k + ar, cols.f0 + ar, model.drop_f[nodes])
    t.add(2 * k + ar, cols.g0 + ar, model.drop_g[nodes])
    return t.matrix((3 * k, cols.count))


def _loadings(
    model: TreeModel, nodes: IntArray, cols: _Columns, extra_p: FloatArray
) -> sp.csr_matrix:
    """Inequalities: the child and parent end of every branch, then the cap row."""
    sign, k, ar = model.sign, cols.k, np.arange(cols.k)
    loss_p, loss_q = model.loss_p[nodes], model.loss_q[nodes]
    t = _Triplets()
    for end, d_p, d_q_f, u_col in (
        (0, np.ones(k), np.zeros(k), cols.u0 + ar),
        (1, 1 + loss_p, loss_q, cols.parent_u),
    ):
        dq = model.dq[end, nodes]
        t.add(end * k + ar, cols.f0 + ar, sign * d_p + dq * d_q_f)
        t.add(end * k + ar, cols.g0 + ar, dq)
        t.add(end * k + ar, u_col, -model.grow[end, nodes])
    t.add(np.full(cols.n_dp, 2 * k), np.arange(cols.n_dp), sign)
    t.add(np.full(cols.n_extra, 2 * k), cols.n_dp + np.arange(cols.n_extra), sign * extra_p)
    return t.matrix((2 * k + 1, cols.count))


def flow_program(
    tree: RadialTree,
    model: TreeModel,
    nodes: IntArray,
    bus_nodes: IntArray,
    dp_lower: FloatArray,
    dp_upper: FloatArray,
    cap_kw: float,
    extra: tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray] | None = None,
) -> FlowProgram:
    """The program over ``nodes`` (non-root, each with F, G, u) with connection buses
    at ``bus_nodes`` (dp in kW within the bounds) and the sum of sign * dp (plus extra
    columns) at most ``cap_kw``; the objective: the most sign * dp. ``extra`` = (node,
    p_kw, q_kvar, lower, upper): extra columns, each adding p_kw and q_kvar per unit
    at a node (one at the root moves no flow). Parents outside ``nodes`` enter as
    boundary voltage columns fixed at 0 (the slack, or an MV node held)."""
    none = np.zeros(0)
    ex_node, ex_p, ex_q, ex_lo, ex_hi = extra or (np.zeros(0, np.int64), none, none, none, none)
    n_dp, n_ex = len(bus_nodes), len(ex_node)
    cols, slot, boundary = _columns(tree, nodes, n_dp, n_ex)
    ex_in = np.array([int(b) in slot for b in ex_node], dtype=bool)
    a_eq = _balances(
        model,
        nodes,
        cols,
        np.array([slot[int(b)] for b in bus_nodes], dtype=np.int64),
        (
            np.array([slot[int(b)] for b in ex_node[ex_in]], dtype=np.int64),
            n_dp + np.flatnonzero(ex_in),
            ex_p[ex_in],
            ex_q[ex_in],
        ),
    )
    a_ub = _loadings(model, nodes, cols, ex_p)
    k = cols.k
    b_ub = np.r_[model.room[0, nodes], model.room[1, nodes], cap_kw]
    free, fixed = np.full(2 * k, np.inf), np.zeros(len(boundary))
    lower = np.r_[dp_lower, ex_lo, -free, model.u_low[nodes], fixed]
    upper = np.r_[dp_upper, ex_hi, free, model.u_high[nodes], fixed]
    lower = np.minimum(lower, upper)  # a limit broken at the operating point: hold it
    cost = np.zeros(cols.count)
    cost[:n_dp] = -model.sign
    cost[n_dp : n_dp + n_ex] = -model.sign * ex_p
    lp = Lp(cost, a_ub, b_ub, a_eq, np.zeros(3 * k), lower, upper)
    return FlowProgram(lp, nodes, n_dp, n_ex, boundary)
