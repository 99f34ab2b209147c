"""The feeder as the dashboard shows it: voltage at every bus and loading of every line
and transformer under the current setpoints, from one AC power flow per snapshot.

It owns its own ``AcGridCheck`` (the planner's runs in the planner's thread and is
not shared).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from gridmodel import AcGridCheck, Injection, Network
from gridmodel.loads import base_load_change, own_load_w
from v2g.aggregator import Snapshot


def _rounded(value: float, digits: int) -> float | None:
    return round(float(value), digits) if math.isfinite(value) else None


class FeederProfile:
    """Per-element results for a snapshot's setpoints on ``network``."""

    def __init__(self, network: Network) -> None:
        self._network = network
        self._check = AcGridCheck(network)
        self._load_w = own_load_w(network)

    def __call__(self, snapshot: Snapshot) -> dict[str, Any] | None:
        if snapshot.plan is None:
            return None
        net = self._network.net
        ev_w: dict[int, float] = defaultdict(float)
        for member in snapshot.state.fleet:
            setpoint = snapshot.plan.setpoints.get(member.evse_id)
            if setpoint is not None:
                ev_w[member.charger.bus] += setpoint.power_w
        factor = snapshot.state.base_load.at(snapshot.at)
        injections = [
            *base_load_change(self._load_w, factor),
            *(Injection(bus, w) for bus, w in ev_w.items() if w),
        ]
        result = self._check.solve(injections)
        limits = self._check.limits
        return {
            "converged": result.converged,
            "base_load_factor": factor,
            "vm_pu_min": limits.vm_pu_min,
            "vm_pu_max": limits.vm_pu_max,
            "buses": [
                {"bus": self._network.bus_name(int(b)), "vm_pu": _rounded(v, 5)}
                for b, v in zip(net.bus.index, result.vm_pu, strict=True)
            ],
            "branches": [
                {"element": str(name), "loading_percent": _rounded(v, 2)}
                for name, v in zip(net.line.name, result.line_loading_percent, strict=True)
            ]
            + [
                {"element": str(name), "loading_percent": _rounded(v, 2)}
                for name, v in zip(net.trafo.name, result.trafo_loading_percent, strict=True)
            ],
        }
