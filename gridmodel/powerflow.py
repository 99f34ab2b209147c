"""The pandapower adapter: AC power flows on a private working copy of a network.

The only module that runs pandapower's solver. It owns a deep copy of the network with
one extra load per bus for the injections under test, solves warm-started from the last
solution (``init="results"`` nearly halves repeated solves on large nets), and returns
results as new numpy arrays; the caller's network is never touched. MW appear only here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gridmodel.networks import Network
from gridmodel.verdict import Injection, InvalidInjection

FloatArray = npt.NDArray[np.float64]

W_PER_MW = 1e6


@dataclass(frozen=True)
class BranchFlows:
    """Active and reactive power entering each branch end, in W and var (+ = from the
    bus into the branch), in the network's element order; NaN out of service."""

    line_from: npt.NDArray[np.complex128] = field(repr=False)
    line_to: npt.NDArray[np.complex128] = field(repr=False)
    trafo_hv: npt.NDArray[np.complex128] = field(repr=False)
    trafo_lv: npt.NDArray[np.complex128] = field(repr=False)


@dataclass(frozen=True)
class FlowResult:
    """One solved operating point. Arrays follow the network's element order
    (``net.bus.index``, ``net.line.index``, ``net.trafo.index``, ``net.trafo3w.index``);
    NaN where an element is out of service. A three-winding transformer's loading is
    its most loaded winding's, as pandapower defines it."""

    converged: bool
    vm_pu: FloatArray = field(repr=False)
    line_loading_percent: FloatArray = field(repr=False)
    trafo_loading_percent: FloatArray = field(repr=False)
    #: Complex power P + jQ into each branch end (W, var); None where not solved.
    flows: BranchFlows | None = field(default=None, repr=False)
    trafo3w_loading_percent: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)

    @classmethod
    def failed(cls, buses: int, lines: int, trafos: int, trafo3ws: int = 0) -> FlowResult:
        """A solve that did not converge: no values anywhere."""
        return cls(
            False,
            np.full(buses, math.nan),
            np.full(lines, math.nan),
            np.full(trafos, math.nan),
            trafo3w_loading_percent=np.full(trafo3ws, math.nan),
        )


class PandapowerFlow:
    """Repeated AC power flows on one network with changing injections."""

    def __init__(self, network: Network) -> None:
        import pandapower as pp

        self.network = network
        self._net = network.copy_net()
        buses = self._net.bus.index
        rows = pp.create_loads(self._net, buses=buses, p_mw=0.0, name="gridmodel injection")
        self._injection_rows = np.asarray(rows)
        self._bus_position = {bus: i for i, bus in enumerate(buses)}
        self._warm = False

    @property
    def net(self) -> Any:
        """The working net (read it only; it changes with every solve)."""
        return self._net

    def bus_position(self, bus: int) -> int:
        try:
            return self._bus_position[bus]
        except KeyError:
            raise InvalidInjection(f"{self.network.name} has no bus {bus}") from None

    def set_injections(self, injections: Sequence[Injection]) -> None:
        power_mw = np.zeros(len(self._injection_rows))
        for injection in injections:
            power_mw[self.bus_position(injection.bus)] += injection.power_w / W_PER_MW
        self._net.load.loc[self._injection_rows, "p_mw"] = power_mw

    def solve(self, injections: Sequence[Injection]) -> FlowResult:
        """Solve with ``injections`` (W, + = load) on top of the network's own loads."""
        import pandapower as pp

        self.set_injections(injections)
        try:
            pp.runpp(
                self._net, numba=False, trafo_model="pi", init="results" if self._warm else "auto"
            )
        except pp.LoadflowNotConverged:
            self._warm = False  # a failed solve leaves no results to start from
            return FlowResult.failed(
                len(self._net.bus), len(self._net.line), len(self._net.trafo), _trafo3ws(self._net)
            )
        self._warm = True
        net = self._net
        return FlowResult(
            True,
            net.res_bus.vm_pu.to_numpy(dtype=float, copy=True),
            net.res_line.loading_percent.to_numpy(dtype=float, copy=True),
            net.res_trafo.loading_percent.to_numpy(dtype=float, copy=True),
            BranchFlows(
                _complex_w(net.res_line, "from"),
                _complex_w(net.res_line, "to"),
                _complex_w(net.res_trafo, "hv"),
                _complex_w(net.res_trafo, "lv"),
            ),
            _trafo3w_loading(net),
        )


def _trafo3ws(net: Any) -> int:
    return len(net.trafo3w) if "trafo3w" in net else 0


def _trafo3w_loading(net: Any) -> FloatArray:
    """Loading of each three-winding transformer in percent (NaN out of service)."""
    if not _trafo3ws(net):
        return np.zeros(0)
    loading: FloatArray = net.res_trafo3w.loading_percent.to_numpy(dtype=float, copy=True)
    loading[~net.trafo3w.in_service.to_numpy(dtype=bool)] = math.nan
    return loading


def _complex_w(table: Any, end: str) -> npt.NDArray[np.complex128]:
    """P + jQ into one end of every branch of a pandapower result table, in W and var."""
    p = table[f"p_{end}_mw"].to_numpy(dtype=float)
    q = table[f"q_{end}_mvar"].to_numpy(dtype=float)
    return np.asarray((p + 1j * q) * W_PER_MW, dtype=np.complex128)
