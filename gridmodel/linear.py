"""The linear model for planning: how voltages and branch loadings move per W at each
connection point, around the last AC operating point.

From the Newton-Raphson Jacobian J of the solved AC power flow, an extra load of dP at
bus k changes the state x = (voltage angles, magnitudes) by dx = J^-1 * (-dP e_k) (in
per unit). Complex voltages move by dV = e^(j theta) (d|V| + j |V| d theta), branch
currents by dI = Yf dV, and a branch end's loading in proportion to its current
magnitude. The rows are exact to first order at the operating point; a plan within
them is verified by one AC flow (the planner's grid adapter, ``v2g.feeder``, learns
from the AC check where they disagree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gridmodel.limits import GridLimits
from gridmodel.networks import Network
from gridmodel.powerflow import W_PER_MW, FlowResult, PandapowerFlow
from gridmodel.verdict import Injection, element_name

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RowLabel:
    """What one constraint row protects: ``element`` and ``metric`` as in Violation."""

    element: str
    metric: str
    limit: float


@dataclass(frozen=True)
class LinearModel:
    """First-order model around one operating point for a set of connection buses
    (every bus and branch end of the network in service).

    ``dp_w`` holds one extra power per connection bus in W (+ = load). Voltages are
    linear in it. Branch loadings are magnitudes of complex currents, which are linear
    in it: ``loading = |current + d_current @ dp_w|`` (both in percent of rating). That
    stays accurate where a flow reverses, where a linearised magnitude would not.
    """

    buses: tuple[int, ...]
    bus_labels: tuple[RowLabel, ...]
    vm_pu: FloatArray = field(repr=False)
    d_vm_pu: FloatArray = field(repr=False)
    branch_labels: tuple[RowLabel, ...]
    current: npt.NDArray[np.complex128] = field(repr=False)
    d_current: npt.NDArray[np.complex128] = field(repr=False)

    def predict_vm_pu(self, dp_w: FloatArray) -> FloatArray:
        result: FloatArray = self.vm_pu + self.d_vm_pu @ dp_w
        return result

    def predict_loading_percent(self, dp_w: FloatArray) -> FloatArray:
        result: FloatArray = np.abs(self.current + self.d_current @ dp_w)
        return result


@dataclass(frozen=True)
class Sensitivities:
    """Columns of a linear model kept as state changes, read row by row on demand.

    ``states`` (state x columns) holds each column's change of the solved state per W;
    voltages and branch-end currents are read off it by ``vm_rows`` (the state row of
    each live bus's magnitude, -1 where it is held) and the real and imaginary current
    maps. The planner reads only the rows it keeps (a few thousand of a 10,000-bus
    network's 30,000), so it never builds the full model: at 140 columns that is 60 MB
    of outputs, most of it never read."""

    buses: tuple[int, ...]
    bus_labels: tuple[RowLabel, ...]
    vm_pu: FloatArray = field(repr=False)
    branch_labels: tuple[RowLabel, ...]
    current: npt.NDArray[np.complex128] = field(repr=False)
    states: FloatArray = field(repr=False)
    vm_rows: IntArray = field(repr=False)
    current_real: sp.csr_matrix = field(repr=False)
    current_imag: sp.csr_matrix = field(repr=False)

    def vm_of(self, states: FloatArray, buses: IntArray | None = None) -> FloatArray:
        """Magnitude changes of live buses (all, or ``buses``) for ``states`` (one state
        vector, or state x k)."""
        rows = self.vm_rows if buses is None else self.vm_rows[buses]
        out: FloatArray = np.zeros((len(rows), *states.shape[1:]))
        moved = rows >= 0
        out[moved] = states[rows[moved]]
        return out

    def current_of(
        self, states: FloatArray, branches: IntArray | None = None
    ) -> npt.NDArray[np.complex128]:
        """Branch-end current changes (all, or ``branches``) for ``states``."""
        real, imag = self.current_real, self.current_imag
        if branches is not None:
            real, imag = real[branches], imag[branches]
        out = np.empty((real.shape[0], *states.shape[1:]), dtype=complex)
        out.real = real @ states
        out.imag = imag @ states
        return out

    def vm_rows_of(self, buses: IntArray) -> FloatArray:
        """Sensitivity rows (per W of each column) of the voltages at ``buses``."""
        return self.vm_of(self.states, buses)

    def current_rows_of(self, branches: IntArray) -> npt.NDArray[np.complex128]:
        return self.current_of(self.states, branches)

    def dense(self) -> LinearModel:
        """Every row at once (for small models and the headroom sweep)."""
        return LinearModel(
            buses=self.buses,
            bus_labels=self.bus_labels,
            vm_pu=self.vm_pu,
            d_vm_pu=self.vm_of(self.states),
            branch_labels=self.branch_labels,
            current=self.current,
            d_current=self.current_of(self.states),
        )


def _label(kind: str, index: int, name: object, metric: str, limit: float) -> RowLabel:
    return RowLabel(element_name(kind, index, name), metric, limit)


@dataclass(frozen=True)
class _BranchEnd:
    """One end of every live branch of a kind: its rows in pandapower's branch matrix,
    which admittance (from/to) gives its current, the per-unit-current-to-percent
    scale, and its labels."""

    ppc_rows: npt.NDArray[np.int64]
    to_side: bool
    scale: FloatArray
    labels: tuple[RowLabel, ...]


#: One end of a branch kind: row offset in the branch matrix, to side?, bus column,
#: rated voltage (kV), rating (MVA, or kA x sqrt 3 for lines), side name.
_End = tuple[int, bool, str, Any, FloatArray, str]


def _branch_ends(net: Any, base_mva: float, limits: GridLimits) -> list[_BranchEnd]:
    """Every live branch end whose loading the verdict judges, scaled as pandapower
    computes loading: lines by current over max_i_ka * df * parallel; two-winding
    transformers by current times rated voltage over sn_mva * df * parallel; each winding
    of a three-winding transformer (hv at the from end of its first star branch, mv and
    lv at the to ends of the other two) by current times rated voltage over its rating."""
    lookup = net._pd2ppc_lookups["branch"]
    bus_kv = net.bus.vn_kv
    ends: list[_BranchEnd] = []

    def add(kind: str, table: Any, loading: Any, limit: float, parts: list[_End]) -> None:
        live = np.flatnonzero(np.isfinite(loading.to_numpy(dtype=float)))
        index, name = table.index.to_numpy(), table.name.to_numpy()
        for offset, to_side, bus_column, rated_kv, rating, side in parts:
            kv = bus_kv.loc[table[bus_column]].to_numpy(dtype=float)
            scale = 100 * base_mva * rated_kv / (kv * rating)
            labels = tuple(
                _label(kind, int(index[p]), name[p], f"loading_percent ({side})", limit)
                for p in live
            )
            ends.append(_BranchEnd(offset + live, to_side, scale[live], labels))

    sqrt3 = np.sqrt(3.0)
    if not net.line.empty and "line" in lookup:
        line = net.line
        rating = (line.max_i_ka * line.df * line.parallel).to_numpy(dtype=float) * sqrt3
        start = lookup["line"][0]
        add(
            "line",
            line,
            net.res_line.loading_percent,
            limits.max_line_loading_percent,
            [
                (start, False, "from_bus", 1.0, rating, "from"),
                (start, True, "to_bus", 1.0, rating, "to"),
            ],
        )
    if not net.trafo.empty and "trafo" in lookup:
        trafo = net.trafo
        rating = (trafo.sn_mva * trafo.df * trafo.parallel).to_numpy(dtype=float)
        start = lookup["trafo"][0]
        hv, lv = (trafo[c].to_numpy(dtype=float) for c in ("vn_hv_kv", "vn_lv_kv"))
        add(
            "trafo",
            trafo,
            net.res_trafo.loading_percent,
            limits.max_trafo_loading_percent,
            [
                (start, False, "hv_bus", hv, rating, "from"),
                (start, True, "lv_bus", lv, rating, "to"),
            ],
        )
    if "trafo3w" in net and not net.trafo3w.empty and "trafo3w" in lookup:
        t3 = net.trafo3w
        start, end = lookup["trafo3w"]
        count = len(t3)
        if end - start != 3 * count:  # not the star layout assumed here: no Jacobian rows
            raise ValueError(f"{end - start} star branches for {count} three-winding trafos")
        parts = [
            (
                start + k * count,
                k > 0,
                f"{w}_bus",
                t3[f"vn_{w}_kv"].to_numpy(dtype=float),
                t3[f"sn_{w}_mva"].to_numpy(dtype=float),
                w,
            )
            for k, w in enumerate(("hv", "mv", "lv"))
        ]
        add(
            "trafo3w", t3, net.res_trafo3w.loading_percent, limits.max_trafo_loading_percent, parts
        )
    return ends


def _jacobian(
    ybus: object,
    voltage: npt.NDArray[np.complex128],
    pvpq: npt.NDArray[np.int64],
    pq: npt.NDArray[np.int64],
) -> object:
    """The power-flow Jacobian at ``voltage``, built here rather than read from the
    solver: a warm-started solve that converges at once leaves none behind."""
    from pandapower.pypower.dSbus_dV import dSbus_dV

    ds_dvm, ds_dva = dSbus_dV(ybus, voltage)
    return sp.bmat(
        [
            [ds_dva[pvpq][:, pvpq].real, ds_dvm[pvpq][:, pq].real],
            [ds_dva[pq][:, pvpq].imag, ds_dvm[pq][:, pq].imag],
        ],
        format="csc",
    )


#: Right-hand sides per SuperLU solve. SuperLU's multi-column solve slows down far
#: more than linearly with the column count (measured on the 20,926-row SimBench
#: Jacobian: 10 columns 11 ms, 138 columns 7.8 s); blocks keep it linear (0.15 s).
SOLVE_BLOCK = 8


def _solve(lu: spla.SuperLU, rhs: FloatArray, trans: str = "N") -> FloatArray:
    """``lu.solve`` over the columns of ``rhs`` in blocks of SOLVE_BLOCK."""
    out = np.empty_like(rhs)
    for start in range(0, rhs.shape[1], SOLVE_BLOCK):
        block = np.asfortranarray(rhs[:, start : start + SOLVE_BLOCK])
        out[:, start : start + SOLVE_BLOCK] = lu.solve(block, trans=trans)
    return out


class OperatingPoint:
    """A solved AC state, factorised once, from which models for any set of buses are
    cut (in chunks, for networks too large for one dense model of every bus)."""

    def __init__(self, flow: PandapowerFlow, limits: GridLimits) -> None:
        net = flow.net
        internal = net._ppc["internal"]
        self._net = net
        self._limits = limits
        self._voltage = internal["V"]
        self._base_mva = float(internal["baseMVA"])
        pv, pq = internal["pv"], internal["pq"]
        self._pvpq = np.r_[pv, pq]
        self._pq = pq
        self._lu = spla.splu(_jacobian(internal["Ybus"], self._voltage, self._pvpq, pq))
        self._bus_lookup = net._pd2ppc_lookups["bus"]
        self._position_in_pvpq = {int(b): i for i, b in enumerate(self._pvpq)}
        vm = net.res_bus.vm_pu.to_numpy(dtype=float)
        self._live_buses = np.flatnonzero(np.isfinite(vm))
        self._vm = vm[self._live_buses]
        self._bus_rows = self._bus_lookup[net.bus.index.to_numpy()[self._live_buses]]
        bus_index, bus_name = net.bus.index.to_numpy(), net.bus.name.to_numpy()
        self._bus_labels = tuple(
            _label("bus", int(bus_index[p]), bus_name[p], "vm_pu", 0.0) for p in self._live_buses
        )
        branch_labels: list[RowLabel] = []
        admittances = []
        # pandapower's solver drops branches that are out of service (or touch a bus
        # that is): the k-th live branch of its branch matrix is row k of Yf and Yt.
        live_branch = np.asarray(internal["branch_is"], dtype=bool)
        solver_row = np.cumsum(live_branch) - 1
        for end in _branch_ends(net, self._base_mva, limits):
            keep = live_branch[end.ppc_rows]
            admittance = internal["Yt"] if end.to_side else internal["Yf"]
            # Rows scaled so that Y @ V is the branch end's loading in percent.
            rows = sp.diags(end.scale[keep]) @ admittance[solver_row[end.ppc_rows[keep]]]
            admittances.append(rows)
            branch_labels += [label for label, k in zip(end.labels, keep, strict=True) if k]
        self._branch_labels = tuple(branch_labels)
        self._admittance = sp.vstack(admittances, format="csr") if admittances else None
        self._current = (
            self._admittance @ self._voltage
            if self._admittance is not None
            else np.zeros(0, dtype=complex)
        )
        self._from_state = self._state_maps()

    def _rhs_rows(self, buses: Sequence[int]) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """Jacobian row (P equation) of each bus, and the per-W right-hand side value
        (0 for the slack, which absorbs its own load)."""
        rows = np.zeros(len(buses), dtype=np.int64)
        scale = np.zeros(len(buses))
        for column, bus in enumerate(buses):
            row = self._position_in_pvpq.get(int(self._bus_lookup[bus]))
            if row is not None:
                rows[column] = row
                scale[column] = -1.0 / (self._base_mva * W_PER_MW)  # extra load: less Sbus
        return rows, scale

    def _state_maps(self) -> tuple[IntArray, tuple[sp.csr_matrix, ...]]:
        """What ``model`` reads off a state change dx = (dtheta at pv+pq, dvm at pq),
        precomputed once per operating point:

        - the row of dx holding each live bus's magnitude change (-1: none, a pv or
          slack bus holds its magnitude);
        - the branch-end currents' change as four real sparse maps on dx. The complex
          voltage change is dV = (V/|V|) dvm + j V dtheta, so Y dV splits by column
          into a magnitude part and an angle part, and each into real and imaginary
          parts: no bus-by-column complex arrays on the way (at 10,000 buses and 140
          columns those took longer than the solve itself)."""
        n_pvpq = len(self._pvpq)
        state_row = np.full(len(self._voltage), -1, dtype=np.int64)
        state_row[self._pq] = n_pvpq + np.arange(len(self._pq))
        vm_rows = state_row[self._bus_rows]
        if self._admittance is None:
            return vm_rows, ()
        y = self._admittance.tocsc()
        by_vm = (y @ sp.diags(self._voltage / np.abs(self._voltage)))[:, self._pq]
        by_angle = (y @ sp.diags(1j * self._voltage))[:, self._pvpq]
        # Columns in dx order: angles (pv+pq) first, then magnitudes (pq).
        both = sp.hstack([by_angle, by_vm], format="csr")
        return vm_rows, (both.real.tocsr(), both.imag.tocsr())

    def states(self, buses: Sequence[int], weights: FloatArray | None = None) -> FloatArray:
        """State changes per W of each column: one column per bus of ``buses``; or,
        with ``weights`` (buses x k), one per weighted combination of them (a column
        moves bus j by ``weights[j, c]`` W per W)."""
        rows, scale = self._rhs_rows(buses)
        columns = np.eye(len(buses)) if weights is None else np.asarray(weights, dtype=float)
        # A sparse bus-to-row map sums buses that share a solver bus (fused by a closed
        # bus-bus switch) as np.add.at would, in a sixth of its time.
        to_rows = sp.csr_matrix(
            (scale, (rows, np.arange(len(rows)))), shape=(self._lu.shape[0], len(rows))
        )
        return _solve(self._lu, np.asarray(to_rows @ columns))

    def sensitivities(self, buses: Sequence[int], states: FloatArray) -> Sensitivities:
        vm_rows, current_maps = self._from_state
        real, imag = current_maps or (sp.csr_matrix((0, states.shape[0])),) * 2
        return Sensitivities(
            buses=tuple(int(b) for b in buses),
            bus_labels=self._bus_labels,
            vm_pu=self._vm,
            branch_labels=self._branch_labels,
            current=self._current,
            states=states,
            vm_rows=vm_rows,
            current_real=real,
            current_imag=imag,
        )

    def model(self, buses: Sequence[int], weights: FloatArray | None = None) -> LinearModel:
        """The full linear model for extra loads at ``buses`` (see ``states``)."""
        return self.sensitivities(buses, self.states(buses, weights)).dense()


class Linearisation(Protocol):
    """Cuts linear models for sets of connection buses out of one operating point."""

    def states(self, buses: Sequence[int], weights: FloatArray | None = None) -> FloatArray:
        """State changes per W of each column (see ``OperatingPoint.states``)."""
        ...

    def sensitivities(self, buses: Sequence[int], states: FloatArray) -> Sensitivities:
        """Rows on demand from ``states`` (columns of ``states``, possibly memoised)."""
        ...

    def model(self, buses: Sequence[int], weights: FloatArray | None = None) -> LinearModel:
        """Every row at once."""
        ...


#: Power step per column of a finite-difference model, in W (small enough that the
#: second-order error stays below the AC check's own tolerance on LV feeders, large
#: enough to rise far above the solver's 1e-8 convergence tolerance).
FD_STEP_W = 1_000.0


class FiniteDifferencePoint:
    """The linear model by finite differences: one AC solve per column, each moving
    its buses by ``FD_STEP_W`` W (per unit of weight). The fallback where the
    Jacobian rows cannot be built. Branch rows are per element (its loading as the
    verdict sees it, a real number), so a loading near a flow reversal is first-order
    in its magnitude rather than exact in the complex current."""

    def __init__(
        self,
        solve: Callable[[Sequence[Injection]], FlowResult],
        network: Network,
        injections: Sequence[Injection],
        limits: GridLimits,
    ) -> None:
        self._solve = solve
        self._injections = list(injections)
        net = network.net
        self._base = solve(self._injections)
        if not self._base.converged:
            raise ValueError("cannot linearise at an operating point that does not converge")
        self._live_buses = np.flatnonzero(np.isfinite(self._base.vm_pu))
        bus_index, bus_name = net.bus.index.to_numpy(), net.bus.name.to_numpy()
        self._bus_labels = tuple(
            _label("bus", int(bus_index[p]), bus_name[p], "vm_pu", 0.0) for p in self._live_buses
        )
        labels: list[RowLabel] = []
        picks: list[tuple[str, npt.NDArray[np.int64]]] = []
        for kind, table, limit in (
            ("line", net.line, limits.max_line_loading_percent),
            ("trafo", net.trafo, limits.max_trafo_loading_percent),
            (
                "trafo3w",
                net.trafo3w if "trafo3w" in net else None,
                limits.max_trafo_loading_percent,
            ),
        ):
            values = self._loading(self._base, kind)
            if table is None or not values.size:
                continue
            live = np.flatnonzero(np.isfinite(values))
            index, name = table.index.to_numpy(), table.name.to_numpy()
            labels += [
                _label(kind, int(index[p]), name[p], "loading_percent", limit) for p in live
            ]
            picks.append((kind, live))
        self._branch_labels = tuple(labels)
        self._picks = picks

    @staticmethod
    def _loading(result: FlowResult, kind: str) -> FloatArray:
        return {
            "line": result.line_loading_percent,
            "trafo": result.trafo_loading_percent,
            "trafo3w": result.trafo3w_loading_percent,
        }[kind]

    def _rows(self, result: FlowResult) -> tuple[FloatArray, FloatArray]:
        vm = result.vm_pu[self._live_buses]
        parts = [self._loading(result, kind)[live] for kind, live in self._picks]
        return vm, np.concatenate(parts) if parts else np.zeros(0)

    def states(self, buses: Sequence[int], weights: FloatArray | None = None) -> FloatArray:
        """The "state" of a finite difference is what it measures: per column, the live
        buses' voltage changes then the branches' loading changes, per W."""
        columns = np.eye(len(buses)) if weights is None else np.asarray(weights, dtype=float)
        vm0, loading0 = self._rows(self._base)
        states = np.zeros((len(vm0) + len(loading0), columns.shape[1]))
        for c in range(columns.shape[1]):
            size = float(np.max(np.abs(columns[:, c]), initial=0.0))
            if size == 0.0:
                continue
            step = FD_STEP_W / size
            moved = [
                Injection(int(b), step * w) for b, w in zip(buses, columns[:, c], strict=True)
            ]
            result = self._solve([*self._injections, *moved])
            if not result.converged:
                raise ValueError("a finite-difference step of the linear model did not converge")
            vm, loading = self._rows(result)
            states[:, c] = np.concatenate([vm - vm0, loading - loading0]) / step
        self._solve(self._injections)  # leave the warm start at the operating point
        return states

    def sensitivities(self, buses: Sequence[int], states: FloatArray) -> Sensitivities:
        vm0, loading0 = self._rows(self._base)
        buses_count, branches = len(vm0), len(loading0)
        # Loadings are read as they are (real "currents"), from the rows after the buses.
        pick = sp.csr_matrix(
            (np.ones(branches), (np.arange(branches), buses_count + np.arange(branches))),
            shape=(branches, buses_count + branches),
        )
        return Sensitivities(
            buses=tuple(int(b) for b in buses),
            bus_labels=self._bus_labels,
            vm_pu=vm0,
            branch_labels=self._branch_labels,
            current=loading0.astype(complex),
            states=states,
            vm_rows=np.arange(buses_count),
            current_real=pick,
            current_imag=sp.csr_matrix((branches, buses_count + branches)),
        )

    def model(self, buses: Sequence[int], weights: FloatArray | None = None) -> LinearModel:
        return self.sensitivities(buses, self.states(buses, weights)).dense()
