"""The radial tree of a network: which branch feeds each bus, and its series impedance.

Distribution networks are operated radially (rings are opened at a switch), so every
bus has exactly one path to the external grid. With that path, power flows and voltage
drops are sums along the tree (LinDistFlow, see ``gridmodel.treeplan``), which keeps the
planning program sparse at any size. Closed bus-bus switches merge buses into one node
(as in both power-flow backends); branch ends behind an open switch are not edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from gridmodel.networks import Network
from gridmodel.pgm_flow import merged_nodes, open_branch_ends

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

LINE, TRAFO = 0, 1


@dataclass(frozen=True)
class RadialTree:
    """A radial network as a tree rooted at the external grid.

    Nodes are numbered in breadth-first order from the root (node 0), so a parent always
    comes before its children. Per non-root node ``c``: ``parent[c]``, and the branch
    that feeds it (``kind`` LINE or TRAFO, ``element`` its position in ``net.line`` or
    ``net.trafo``, ``parent_is_from``: whether the parent is the line's from bus or the
    transformer's hv bus). Entries for the root are unused (parent -1).

    Electrical data per feeding branch, from the network's own parameters: series
    resistance and reactance ``r_ohm``/``x_ohm`` referred to the child's side, the
    child's nominal voltage ``vn_child_v`` (line to line), and the current each end
    carries at 100 % loading, ``rated_parent_a``/``rated_child_a`` (as the AC check
    computes loading: line ``max_i_ka * df * parallel``; transformer ``sn / (sqrt(3)
    vn_side)``) with the nominal voltage of that end's bus ``vn_parent_v``.
    """

    buses: IntArray = field(repr=False)  # representative bus of each node
    bus_row: IntArray = field(repr=False)  # its position in net.bus (result arrays)
    node_of_bus: dict[int, int] = field(repr=False)
    parent: IntArray = field(repr=False)
    levels: tuple[IntArray, ...] = field(repr=False)  # nodes by depth, root's level first
    kind: IntArray = field(repr=False)
    element: IntArray = field(repr=False)
    parent_is_from: BoolArray = field(repr=False)
    r_ohm: FloatArray = field(repr=False)
    x_ohm: FloatArray = field(repr=False)
    vn_child_v: FloatArray = field(repr=False)
    vn_parent_v: FloatArray = field(repr=False)
    rated_parent_a: FloatArray = field(repr=False)
    rated_child_a: FloatArray = field(repr=False)
    #: Per node, the node heading its low-voltage grid (fed by a transformer, below
    #: 1 kV), or -1 for nodes of the medium- and high-voltage network.
    lv_grid: IntArray = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.parent)


class NotRadial(ValueError):
    """The network has a loop (or several external grids): no single path per bus."""


def _branches(net: object) -> tuple[list[tuple[int, int, int, int]], dict[int, int]]:
    """(kind, position, node a, node b) of every closed, in-service branch between two
    different nodes, with the node (representative bus) of every in-service bus."""
    node_of = merged_nodes(net)
    open_ends = open_branch_ends(net)
    bus_live = dict(zip(net.bus.index, net.bus.in_service, strict=True))  # type: ignore[attr-defined]
    found: list[tuple[int, int, int, int]] = []
    for kind, table, letter, a_col, b_col in (
        (LINE, net.line, "l", "from_bus", "to_bus"),  # type: ignore[attr-defined]
        (TRAFO, net.trafo, "t", "hv_bus", "lv_bus"),  # type: ignore[attr-defined]
    ):
        live = table.in_service.to_numpy(dtype=bool)
        for position, (index, a, b) in enumerate(
            zip(table.index, table[a_col], table[b_col], strict=True)
        ):
            closed = (int(index), letter, int(a)) not in open_ends and (
                int(index),
                letter,
                int(b),
            ) not in open_ends
            both_live = bus_live[a] and bus_live[b]  # a branch to a dead bus carries nothing
            if live[position] and both_live and closed and node_of[int(a)] != node_of[int(b)]:
                found.append((kind, position, node_of[int(a)], node_of[int(b)]))
    return found, node_of


def radial_tree(network: Network) -> RadialTree:
    """The network's tree from its single external grid; NotRadial if it has a loop."""
    net = network.net
    grids = net.ext_grid[net.ext_grid.in_service]
    if len(grids) != 1:
        raise NotRadial(f"{network.name} has {len(grids)} external grids in service")
    branches, node_of = _branches(net)
    live_bus = net.bus.index[net.bus.in_service.to_numpy(dtype=bool)]
    reps = sorted({node_of[int(b)] for b in live_bus})
    dense = {bus: i for i, bus in enumerate(reps)}
    ends = np.array([(dense[a], dense[b]) for _, _, a, b in branches], dtype=np.int64)
    ends = ends.reshape(-1, 2)
    edge_ids = np.arange(len(branches)) + 1  # +1: a sparse matrix drops explicit zeros
    graph = sp.coo_matrix(
        (
            np.r_[edge_ids, edge_ids],
            (np.r_[ends[:, 0], ends[:, 1]], np.r_[ends[:, 1], ends[:, 0]]),
        ),
        shape=(len(reps), len(reps)),
    ).tocsr()
    root_dense = dense[node_of[int(grids.bus.iloc[0])]]
    order, predecessor = breadth_first_order(graph, root_dense, directed=False)
    if len(branches) != len(order) - 1:
        raise NotRadial(
            f"{network.name}: {len(branches)} closed branches join {len(order)} buses "
            "(a radial network has one fewer): it has a loop"
        )
    position = np.full(len(reps), -1, dtype=np.int64)
    position[order] = np.arange(len(order))
    n = len(order)
    parent = np.full(n, -1, dtype=np.int64)
    parent[1:] = position[predecessor[order[1:]]]
    # The branch between each node and its parent: the graph stores its id.
    edge = np.zeros(n, dtype=np.int64)
    edge[1:] = np.asarray(graph[predecessor[order[1:]], order[1:]]).ravel() - 1
    kind = np.array([LINE] + [branches[e][0] for e in edge[1:]], dtype=np.int64)
    element = np.array([0] + [branches[e][1] for e in edge[1:]], dtype=np.int64)
    parent_is_from = np.ones(n, dtype=bool)
    parent_is_from[1:] = ends[edge[1:], 0] == order[parent[1:]]
    tree_buses = np.array([reps[d] for d in order], dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    for node in range(1, n):  # parents come first in breadth-first order
        depth[node] = depth[parent[node]] + 1
    levels = tuple(np.flatnonzero(depth == d) for d in range(int(depth.max(initial=0)) + 1))
    bus_row = net.bus.index.get_indexer(tree_buses).astype(np.int64)
    electrical = _electrical(net, kind, element, parent_is_from)
    vn_child = electrical[2]
    lv_grid = np.full(n, -1, dtype=np.int64)
    for level in levels[1:]:
        heads = level[(kind[level] == TRAFO) & (vn_child[level] < 1000.0)]
        lv_grid[level] = lv_grid[parent[level]]
        lv_grid[heads] = heads
    node_of_bus = {
        int(bus): int(position[dense[node_of[int(bus)]]])
        for bus in live_bus
        if position[dense[node_of[int(bus)]]] >= 0
    }
    return RadialTree(
        tree_buses,
        bus_row,
        node_of_bus,
        parent,
        levels,
        kind,
        element,
        parent_is_from,
        *electrical,
        lv_grid,
    )


def _electrical(
    net: object, kind: IntArray, element: IntArray, parent_is_from: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per node: r, x (ohm, child side), vn of child and parent end (V), rated current
    at the parent and child end (A)."""
    n = len(kind)
    r, x = np.zeros(n), np.zeros(n)
    vn_child, vn_parent = np.ones(n), np.ones(n)
    rated_parent, rated_child = np.full(n, math.inf), np.full(n, math.inf)
    bus_v = net.bus.vn_kv * 1e3  # type: ignore[attr-defined]
    line, trafo = net.line, net.trafo  # type: ignore[attr-defined]
    is_line = np.flatnonzero(kind == LINE)
    is_line = is_line[is_line > 0]  # node 0 is the root: no feeding branch
    if len(is_line):
        rows = line.iloc[element[is_line]]
        parallel = rows.parallel.to_numpy(dtype=float)
        length = rows.length_km.to_numpy(dtype=float)
        r[is_line] = rows.r_ohm_per_km.to_numpy(dtype=float) * length / parallel
        x[is_line] = rows.x_ohm_per_km.to_numpy(dtype=float) * length / parallel
        from_v = bus_v.loc[rows.from_bus].to_numpy(dtype=float)
        to_v = bus_v.loc[rows.to_bus].to_numpy(dtype=float)
        forward = parent_is_from[is_line]
        vn_parent[is_line] = np.where(forward, from_v, to_v)
        vn_child[is_line] = np.where(forward, to_v, from_v)
        rated = (rows.max_i_ka * 1e3 * rows.df * rows.parallel).to_numpy(dtype=float)
        rated_parent[is_line] = rated
        rated_child[is_line] = rated
    is_trafo = np.flatnonzero(kind == TRAFO)
    if len(is_trafo):
        rows = trafo.iloc[element[is_trafo]]
        sn_va = (rows.sn_mva * 1e6 * rows.parallel).to_numpy(dtype=float)
        hv_v = rows.vn_hv_kv.to_numpy(dtype=float) * 1e3
        lv_v = rows.vn_lv_kv.to_numpy(dtype=float) * 1e3
        z_base = lv_v**2 / sn_va
        vk = rows.vk_percent.to_numpy(dtype=float) / 100
        vkr = rows.vkr_percent.to_numpy(dtype=float) / 100
        hv_bus_v = bus_v.loc[rows.hv_bus].to_numpy(dtype=float)
        lv_bus_v = bus_v.loc[rows.lv_bus].to_numpy(dtype=float)
        forward = parent_is_from[is_trafo]  # parent on the hv side, as usual
        child_side_v = np.where(forward, lv_v, hv_v)
        scale = (child_side_v / lv_v) ** 2  # impedance referred to the child's side
        r[is_trafo] = vkr * z_base * scale
        x[is_trafo] = np.sqrt(np.maximum(vk**2 - vkr**2, 0.0)) * z_base * scale
        vn_parent[is_trafo] = np.where(forward, hv_bus_v, lv_bus_v)
        vn_child[is_trafo] = np.where(forward, lv_bus_v, hv_bus_v)
        sqrt3 = math.sqrt(3.0)
        rated_hv, rated_lv = sn_va / (sqrt3 * hv_v), sn_va / (sqrt3 * lv_v)
        rated_parent[is_trafo] = np.where(forward, rated_hv, rated_lv)
        rated_child[is_trafo] = np.where(forward, rated_lv, rated_hv)
    return r, x, vn_child, vn_parent, rated_parent, rated_child
