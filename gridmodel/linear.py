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

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gridmodel.limits import GridLimits
from gridmodel.powerflow import W_PER_MW, PandapowerFlow
from gridmodel.verdict import element_name

FloatArray = npt.NDArray[np.float64]


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


def _label(kind: str, index: int, name: object, metric: str, limit: float) -> RowLabel:
    return RowLabel(element_name(kind, index, name), metric, limit)


def _percent_per_pu_current(
    net: object, kind: str, base_mva: float
) -> tuple[FloatArray, FloatArray]:
    """Scale from per-unit branch current to loading percent, per end, as pandapower
    computes loading (lines: current over max_i_ka; transformers: current times rated
    voltage over sn_mva; both divided by parallel and df)."""
    bus_kv = net.bus.vn_kv  # type: ignore[attr-defined]
    sqrt3 = np.sqrt(3.0)
    if kind == "line":
        table = net.line  # type: ignore[attr-defined]
        rating = (table.max_i_ka * table.df * table.parallel).to_numpy(dtype=float)
        from_kv = bus_kv.loc[table.from_bus].to_numpy(dtype=float)
        to_kv = bus_kv.loc[table.to_bus].to_numpy(dtype=float)
        return (
            100 * base_mva / (sqrt3 * from_kv * rating),
            100 * base_mva / (sqrt3 * to_kv * rating),
        )
    table = net.trafo  # type: ignore[attr-defined]
    rating = (table.sn_mva * table.df * table.parallel).to_numpy(dtype=float)
    hv_kv = bus_kv.loc[table.hv_bus].to_numpy(dtype=float)
    lv_kv = bus_kv.loc[table.lv_bus].to_numpy(dtype=float)
    return (
        100 * base_mva * table.vn_hv_kv.to_numpy(dtype=float) / (hv_kv * rating),
        100 * base_mva * table.vn_lv_kv.to_numpy(dtype=float) / (lv_kv * rating),
    )


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
        currents = []
        for kind, table, loading, limit in (
            ("line", net.line, net.res_line.loading_percent, limits.max_line_loading_percent),
            ("trafo", net.trafo, net.res_trafo.loading_percent, limits.max_trafo_loading_percent),
        ):
            if table.empty or kind not in net._pd2ppc_lookups["branch"]:
                continue
            start, _ = net._pd2ppc_lookups["branch"][kind]
            live = np.flatnonzero(np.isfinite(loading.to_numpy(dtype=float)))
            branches = start + live
            scale_from, scale_to = _percent_per_pu_current(net, kind, self._base_mva)
            for admittance, scale, side in (
                (internal["Yf"], scale_from, "from"),
                (internal["Yt"], scale_to, "to"),
            ):
                # Rows scaled so that Y @ V is the branch end's loading in percent.
                rows = sp.diags(scale[live]) @ admittance[branches]
                admittances.append(rows)
                currents.append(rows @ self._voltage)
                index, name = table.index.to_numpy(), table.name.to_numpy()
                metric = f"loading_percent ({side})"
                branch_labels += [
                    _label(kind, int(index[p]), name[p], metric, limit) for p in live
                ]
        self._branch_labels = tuple(branch_labels)
        self._admittance = sp.vstack(admittances, format="csr") if admittances else None
        self._current = np.concatenate(currents) if currents else np.zeros(0, dtype=complex)

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

    def _state_to_dv(self, dx: FloatArray) -> tuple[FloatArray, npt.NDArray[np.complex128]]:
        """Magnitude changes and complex voltage changes per ppc bus, from state changes."""
        n_ppc, n_pvpq = len(self._voltage), len(self._pvpq)
        dtheta = np.zeros((n_ppc, dx.shape[1]))
        dvm = np.zeros((n_ppc, dx.shape[1]))
        dtheta[self._pvpq, :] = dx[:n_pvpq, :]
        dvm[self._pq, :] = dx[n_pvpq:, :]
        dv_complex: npt.NDArray[np.complex128] = np.exp(1j * np.angle(self._voltage))[:, None] * (
            dvm + 1j * np.abs(self._voltage)[:, None] * dtheta
        )
        return dvm, dv_complex

    def model(self, buses: Sequence[int], weights: FloatArray | None = None) -> LinearModel:
        """The linear model for extra loads at ``buses``, one column per bus; or, with
        ``weights`` (buses x k), one column per weighted combination of the buses (a
        column then moves bus j by ``weights[j, c]`` W per W of the column)."""
        rows, scale = self._rhs_rows(buses)
        columns = np.eye(len(buses)) if weights is None else np.asarray(weights, dtype=float)
        rhs = np.zeros((self._lu.shape[0], columns.shape[1]))
        np.add.at(rhs, rows, scale[:, None] * columns)
        dvm, dv_complex = self._state_to_dv(_solve(self._lu, rhs))
        d_current = (
            self._admittance @ dv_complex
            if self._admittance is not None
            else np.zeros((0, columns.shape[1]), dtype=complex)
        )
        return LinearModel(
            buses=tuple(int(b) for b in buses),
            bus_labels=self._bus_labels,
            vm_pu=self._vm,
            d_vm_pu=dvm[self._bus_rows],
            branch_labels=self._branch_labels,
            current=self._current,
            d_current=np.asarray(d_current),
        )
