"""The network's own loads per bus, in W: what a base-load profile scales."""

from __future__ import annotations

from gridmodel.networks import Network
from gridmodel.verdict import Injection

W_PER_MW = 1e6


def own_load_w(network: Network) -> dict[int, float]:
    """Active power of the in-service loads at each bus in W (+ = load), after
    pandapower's ``scaling``; buses without a load are absent."""
    loads = network.net.load
    active = loads[loads.in_service]
    per_bus = (active.p_mw * active.scaling).groupby(active.bus).sum()
    return {int(bus): float(p) * W_PER_MW for bus, p in per_bus.items() if p != 0}


def base_load_change(load_w: dict[int, float], factor: float) -> list[Injection]:
    """Extra injections that turn the network's own loads into ``factor`` times them
    (active power only: a base-load profile scales P, reactive power stays)."""
    if factor == 1.0:
        return []
    return [Injection(bus, (factor - 1.0) * p) for bus, p in load_w.items()]
