"""An independent AC replay: every slot of a schedule as one pandapower power flow.

The network's own loads scale with the base-load factor (active power only, as
docs/scenario.md says), vehicles are extra loads at their buses (+ = charging, unity power
factor). A violation is an element over its limit in a slot *and* worse than the same
slot without vehicles (a base case that already breaks a limit is the network's fault,
counted apart as ``base_violations``). Tolerances: 0.1 loading points, 5e-4 pu.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gridmodel import Network

LOADING_TOLERANCE = 0.1
VOLTAGE_TOLERANCE = 5e-4
#: pandapower reuses its internal model between flows where only loads change.
RECYCLE = {"bus_pq": True, "trafo": False, "gen": False}


@dataclass(frozen=True)
class Flow:
    """One solved slot: loading (%) per line and trafo, voltage (pu) per bus, NaN where
    out of service. ``converged`` False means none of it is valid."""

    converged: bool
    line_percent: np.ndarray
    trafo_percent: np.ndarray
    vm_pu: np.ndarray


@dataclass(frozen=True)
class Violation:
    """An element over its limit in one slot by ``excess`` (loading points or pu)."""

    slot: int
    element: str
    kind: int
    index: int
    excess: float


@dataclass
class ReplayResult:
    """The verdict on a whole schedule."""

    violations: list[Violation] = field(default_factory=list)
    base_violations: int = 0
    not_converged_slots: list[int] = field(default_factory=list)
    max_line_percent: float = 0.0
    max_trafo_percent: float = 0.0
    min_vm_pu: float = np.inf
    max_vm_pu: float = -np.inf

    @property
    def not_converged(self) -> int:
        return len(self.not_converged_slots)

    @property
    def count(self) -> int:
        return len(self.violations) + self.not_converged


class AcReplay:
    """Power flows on a private copy of ``network`` with one extra load per bus that
    vehicles use (created once so pandapower can recycle its model)."""

    def __init__(self, network: Network, buses: Sequence[int]) -> None:
        import pandapower as pp

        self.network = network
        self.limits = network.limits
        self.net = network.copy_net()
        self.buses = [int(b) for b in buses]
        self.base_p_mw = self.net.load.p_mw.to_numpy(dtype=float).copy()
        self.ev_loads = np.array(
            [pp.create_load(self.net, b, p_mw=0.0, name=f"oracle-ev-{b}") for b in self.buses]
        )
        self.own = np.arange(len(self.base_p_mw))
        self._recycle = False

    def flow(self, factor: float, bus_power_w: np.ndarray) -> Flow:
        """The flow with the own loads at ``factor`` and ``bus_power_w[k]`` W at
        ``buses[k]`` (+ = load)."""
        return self._flow(round(float(factor), 6), tuple(np.round(bus_power_w, 1)))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one replay object per scenario
    def _flow(self, factor: float, bus_power_w: tuple[float, ...]) -> Flow:
        p = self.net.load.p_mw.to_numpy(dtype=float).copy()
        p[self.own] = self.base_p_mw * factor
        p[len(self.base_p_mw) :] = np.asarray(bus_power_w) / 1e6
        self.net.load["p_mw"] = p
        # A run started from the last (perhaps far-off) state can fail where a fresh
        # (DC) start succeeds; a failed run also leaves pandapower's recycled model
        # unusable. Retry once from scratch before calling it diverged.
        if not self._run(recycle=self._recycle) and not self._run(recycle=False):
            empty = np.array([])
            return Flow(False, empty, empty, empty)
        net = self.net
        trafo = net.res_trafo.loading_percent.to_numpy(dtype=float)
        if len(net.trafo3w):
            trafo = np.concatenate([trafo, net.res_trafo3w.loading_percent.to_numpy(float)])
        return Flow(
            True,
            net.res_line.loading_percent.to_numpy(dtype=float).copy(),
            trafo.copy(),
            net.res_bus.vm_pu.to_numpy(dtype=float).copy(),
        )

    def _run(self, recycle: bool) -> bool:
        import pandapower as pp

        try:
            if recycle:
                pp.runpp(self.net, recycle=RECYCLE)
            else:
                pp.runpp(self.net, init="dc", max_iteration=30)
        except pp.LoadflowNotConverged:
            self._recycle = False
            return False
        self._recycle = True
        return True

    def base(self, factor: float) -> Flow:
        return self.flow(factor, np.zeros(len(self.buses)))

    def element_names(self) -> tuple[list[str], list[str], list[str]]:
        net = self.net
        lines = [f"line {i}" for i in net.line.index]
        trafos = [f"trafo {i}" for i in net.trafo.index] + [
            f"trafo3w {i}" for i in net.trafo3w.index
        ]
        buses = [f"bus {i}" for i in net.bus.index]
        return lines, trafos, buses

    def excess(self, flow: Flow) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """How far each element is over its limit (<= 0 within): line, trafo loading
        points; undervoltage, overvoltage in pu."""
        limits = self.limits
        with np.errstate(invalid="ignore"):
            return (
                np.nan_to_num(flow.line_percent - limits.max_line_loading_percent, nan=-1.0),
                np.nan_to_num(flow.trafo_percent - limits.max_trafo_loading_percent, nan=-1.0),
                np.nan_to_num(limits.vm_pu_min - flow.vm_pu, nan=-1.0),
                np.nan_to_num(flow.vm_pu - limits.vm_pu_max, nan=-1.0),
            )

    def replay(self, factors: Sequence[float], bus_power_w: np.ndarray) -> ReplayResult:
        """Every slot ``t`` with own loads at ``factors[t]`` and ``bus_power_w[t]``."""
        result = ReplayResult()
        lines, trafos, buses = self.element_names()
        names = (lines, trafos, [f"{b} vm_min" for b in buses], [f"{b} vm_max" for b in buses])
        tolerances = (LOADING_TOLERANCE, LOADING_TOLERANCE, VOLTAGE_TOLERANCE, VOLTAGE_TOLERANCE)
        for slot, factor in enumerate(factors):
            flow = self.flow(factor, bus_power_w[slot])
            base = self.base(factor)
            if not flow.converged:
                result.not_converged_slots.append(slot)
                continue
            self._extremes(result, flow)
            over = self.excess(flow)
            base_over = (
                self.excess(base)
                if base.converged
                else tuple(np.full_like(o, np.inf) for o in over)
            )
            for kind, (values, base_values) in enumerate(zip(over, base_over, strict=True)):
                tolerance = tolerances[kind]
                result.base_violations += int(np.sum(base_values > tolerance))
                for k in np.flatnonzero((values > tolerance) & (values > base_values + tolerance)):
                    result.violations.append(
                        Violation(slot, names[kind][k], kind, int(k), float(values[k]))
                    )
        return result

    @staticmethod
    def _extremes(result: ReplayResult, flow: Flow) -> None:
        def top(values: np.ndarray) -> float:
            finite = values[np.isfinite(values)]
            return float(finite.max()) if finite.size else 0.0

        result.max_line_percent = max(result.max_line_percent, top(flow.line_percent))
        result.max_trafo_percent = max(result.max_trafo_percent, top(flow.trafo_percent))
        vm = flow.vm_pu[np.isfinite(flow.vm_pu)]
        if vm.size:
            result.min_vm_pu = min(result.min_vm_pu, float(vm.min()))
            result.max_vm_pu = max(result.max_vm_pu, float(vm.max()))
