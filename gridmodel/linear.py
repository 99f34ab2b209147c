"""The linear model for planning: how voltages and branch loadings move per W at each
connection point, around the last AC operating point.

From the Newton-Raphson Jacobian J of the solved AC power flow, an extra load of dP at
bus k changes the state x = (voltage angles, magnitudes) by dx = J^-1 * (-dP e_k) (in
per unit). Complex voltages move by dV = e^(j theta) (d|V| + j |V| d theta), branch
currents by dI = Yf dV, and a branch end's loading in proportion to its current
magnitude. The rows are exact to first order at the operating point, so they are
refreshed after each AC solve; a plan within them is verified by one AC flow and
tightened if the AC result disagrees (see ``gridmodel.planning``).
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
    (every row of the network, or only those that can bind: ``binding_rows``).

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

    def constraints(
        self, limits: GridLimits, polygon_sides: int = 16
    ) -> tuple[FloatArray, FloatArray, tuple[RowLabel, ...]]:
        """LP rows ``A @ dp_w <= b`` and what each protects.

        A loading limit |I| <= L is a disc; it is replaced by the inscribed polygon with
        ``polygon_sides`` sides (rows Re(e^-j phi I) <= L cos(pi / sides)), which is
        conservative by at most 1 - cos(pi / sides) (1.9 % with 16 sides).
        """
        rows_a = [self.d_vm_pu, -self.d_vm_pu]
        rows_b = [limits.vm_pu_max - self.vm_pu, self.vm_pu - limits.vm_pu_min]
        labels = [RowLabel(b.element, "vm_pu_max", limits.vm_pu_max) for b in self.bus_labels]
        labels += [RowLabel(b.element, "vm_pu_min", limits.vm_pu_min) for b in self.bus_labels]
        shrink = np.cos(np.pi / polygon_sides)
        branch_limits = np.array([label.limit for label in self.branch_labels])
        for k in range(polygon_sides):
            rotation = np.exp(-2j * np.pi * k / polygon_sides)
            rows_a.append(np.real(rotation * self.d_current))
            rows_b.append(branch_limits * shrink - np.real(rotation * self.current))
            labels += list(self.branch_labels)
        return np.vstack(rows_a), np.concatenate(rows_b), tuple(labels)


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

    def binding_rows(
        self,
        buses: Sequence[int],
        reach_w: FloatArray,
        limits: GridLimits,
        safety: float = 2.0,
        max_rows: int = 1500,
    ) -> LinearModel:
        """The model restricted to the rows that could bind if every bus moved by up to
        ``reach_w``, with their coefficients for every bus.

        Screening takes one forward solve with all buses moving together (in a radial
        feeder an extra load lowers every voltage and raises the currents upstream of
        it, so aligned contributions add up), times ``safety``. A row it misses shows up
        in the AC verification, which the planner answers by shrinking its step. The
        kept rows' coefficients then come from adjoint solves (J^T y = row), one per
        kept row instead of one per bus.
        """
        rhs_rows, scale = self._rhs_rows(buses)
        total = np.zeros((self._lu.shape[0], 1))
        np.add.at(total[:, 0], rhs_rows, np.abs(scale) * reach_w)
        dvm_total, dv_total = self._state_to_dv(self._lu.solve(total))
        spread_v = np.abs(dvm_total[self._bus_rows, 0]) * safety
        spread_i = (
            np.abs(self._admittance @ dv_total)[:, 0] * safety
            if self._admittance is not None
            else np.zeros(0)
        )
        branch_limit = np.array([label.limit for label in self._branch_labels])
        # How far past its limit each row could go, relative to the room it has left.
        room_v = np.minimum(limits.vm_pu_max - self._vm, self._vm - limits.vm_pu_min)
        room_i = branch_limit - np.abs(self._current)
        with np.errstate(divide="ignore", invalid="ignore"):
            pressure_v = np.where(room_v > 0, spread_v / room_v, np.inf)
            pressure_i = np.where(room_i > 0, spread_i / room_i, np.inf)
        hot_buses = np.flatnonzero(pressure_v > 1.0)
        hot_branches = np.flatnonzero(pressure_i > 1.0)
        if len(hot_buses) + len(hot_branches) > max_rows:
            # Keep the rows under most pressure; one that is left out and binds shows up
            # in the AC verification, which shrinks the planner's step (memory stays
            # bounded on networks where thousands of rows could bind at once).
            cutoff = np.sort(np.r_[pressure_v[hot_buses], pressure_i[hot_branches]])[-max_rows]
            hot_buses = hot_buses[pressure_v[hot_buses] >= cutoff]
            hot_branches = hot_branches[pressure_i[hot_branches] >= cutoff]

        n_state, n_pvpq = self._lu.shape[0], len(self._pvpq)
        # Voltage magnitude rows: the |V| entry of the state vector (pq buses only).
        pq_position = {int(b): n_pvpq + i for i, b in enumerate(self._pq)}
        seeds_v = np.zeros((n_state, len(hot_buses)))
        for k, position in enumerate(hot_buses):
            state_row = pq_position.get(int(self._bus_rows[position]))
            if state_row is not None:
                seeds_v[state_row, k] = 1.0
        # Branch current rows: dI = Y dV, dV = e^(j theta) (d|V| + j |V| d theta).
        seeds_i = np.zeros((n_state, 0), dtype=complex)
        if len(hot_branches) and self._admittance is not None:
            rotation = np.exp(1j * np.angle(self._voltage))
            y_rows = self._admittance[hot_branches]
            d_theta = (y_rows @ sp.diags(1j * np.abs(self._voltage) * rotation))[:, self._pvpq]
            d_mag = (y_rows @ sp.diags(rotation))[:, self._pq]
            seeds_i = sp.hstack([d_theta, d_mag], format="csr").T.toarray()
        adjoint = _solve(self._lu, np.hstack([seeds_v, seeds_i.real, seeds_i.imag]), trans="T")
        n_v, n_i = len(hot_buses), len(hot_branches)
        picked = adjoint[rhs_rows, :] * scale[:, None]  # buses x rows
        d_vm = picked[:, :n_v].T
        d_current = (picked[:, n_v : n_v + n_i] + 1j * picked[:, n_v + n_i :]).T
        return LinearModel(
            buses=tuple(int(b) for b in buses),
            bus_labels=tuple(self._bus_labels[p] for p in hot_buses),
            vm_pu=self._vm[hot_buses],
            d_vm_pu=d_vm,
            branch_labels=tuple(self._branch_labels[p] for p in hot_branches),
            current=self._current[hot_branches],
            d_current=d_current,
        )

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
