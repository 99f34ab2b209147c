"""The grid check: one AC power flow and a verdict against the network's limits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gridmodel.limits import GridLimits
from gridmodel.linear import OperatingPoint
from gridmodel.networks import Network
from gridmodel.powerflow import FlowResult, PandapowerFlow
from gridmodel.verdict import GridVerdict, Injection, Violation, element_name


def _over(values: np.ndarray, limit: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.flatnonzero(values > limit)


def judge(result: FlowResult, network: Network, limits: GridLimits) -> GridVerdict:
    """The verdict on a solved operating point: every broken limit, named."""
    if not result.converged:
        return GridVerdict.not_converged("did not converge")
    net = network.net
    violations: list[Violation] = []
    checks = (
        (
            "line",
            net.line,
            result.line_loading_percent,
            "loading_percent",
            limits.max_line_loading_percent,
            1.0,
        ),
        (
            "trafo",
            net.trafo,
            result.trafo_loading_percent,
            "loading_percent",
            limits.max_trafo_loading_percent,
            1.0,
        ),
        ("bus", net.bus, result.vm_pu, "vm_pu_max", limits.vm_pu_max, 1.0),
        # Undervoltage as "value above limit" on the negated voltage.
        ("bus", net.bus, result.vm_pu, "vm_pu_min", limits.vm_pu_min, -1.0),
    )
    for kind, table, values, metric, limit, sign in checks:
        for position in _over(sign * values, sign * limit):
            index = int(table.index[position])
            violations.append(
                Violation(
                    element_name(kind, index, table.at[index, "name"]),
                    metric,
                    float(values[position]),
                    limit,
                )
            )
    return GridVerdict(
        violations=tuple(violations),
        max_line_loading_percent=_nanmax(result.line_loading_percent),
        max_trafo_loading_percent=_nanmax(result.trafo_loading_percent),
        min_vm_pu=float(np.nanmin(result.vm_pu)),
        max_vm_pu=float(np.nanmax(result.vm_pu)),
    )


def _nanmax(values: np.ndarray) -> float:
    return float(np.nanmax(values)) if values.size and not np.all(np.isnan(values)) else 0.0


class AcGridCheck:
    """The exact check: a full AC power flow per call, warm-started.

    ``backend="auto"`` solves checks with power-grid-model where the network allows
    (5-35x faster here, agreeing with pandapower within 1e-7 pu), else with pandapower.
    pandapower stays the model of record: ``reference`` checks with it, and the linear
    model is always taken from its Jacobian (``operating_point``).
    """

    def __init__(
        self, network: Network, limits: GridLimits | None = None, backend: str = "auto"
    ) -> None:
        from gridmodel.pgm_flow import PgmFlow, UnsupportedNetwork

        if backend not in ("auto", "pandapower", "power-grid-model"):
            raise ValueError(f"unknown backend {backend!r}")
        self.network = network
        self.limits = limits or network.limits
        self.flow = PandapowerFlow(network)
        self.fast: PgmFlow | None = None
        if backend != "pandapower":
            try:
                self.fast = PgmFlow(network)
            except UnsupportedNetwork:
                if backend == "power-grid-model":
                    raise
        self.backend = "power-grid-model" if self.fast else "pandapower"
        # Warm up at construction, never inside the first real request: the first
        # solve builds pandapower's lookups and gives later solves a starting point.
        self.base_verdict = self.reference([])

    def solve(self, injections: Sequence[Injection]) -> FlowResult:
        return (self.fast or self.flow).solve(injections)

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        return judge(self.solve(injections), self.network, self.limits)

    def reference(self, injections: Sequence[Injection]) -> GridVerdict:
        """The verdict of pandapower's own solver (the model of record)."""
        return judge(self.flow.solve(injections), self.network, self.limits)

    def operating_point(
        self, injections: Sequence[Injection], limits: GridLimits | None = None
    ) -> OperatingPoint:
        """The linearisation at ``injections`` (one pandapower solve)."""
        result = self.flow.solve(injections)
        if not result.converged:
            raise ValueError("cannot linearise at an operating point that does not converge")
        return OperatingPoint(self.flow, limits or self.limits)
