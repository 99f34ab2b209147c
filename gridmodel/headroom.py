"""Headroom and hosting capacity: how much more power fits at a bus, and what binds.

First the linear model gives, per bus and direction, the distance to the nearest
limit (voltage rows are linear; a loading |I0 + p dI| = L is solved as a quadratic).
Then the estimate is verified with AC power flows and shrunk until the AC check
passes, so a reported headroom never breaks a limit in the exact model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridmodel.check import AcGridCheck
from gridmodel.limits import GridLimits
from gridmodel.linear import Linearisation, LinearModel
from gridmodel.networks import slack_buses
from gridmodel.verdict import GridVerdict, Headroom, Injection

#: Headroom is not searched beyond this (a bigger "charger" is no longer one).
MAX_HEADROOM_W = 10_000_000.0
#: Buses per linear model when sweeping many buses (bounds memory on 10k buses).
CHUNK_BUSES = 128
#: Fractions of the linear estimate tried, in order, during AC verification.
SHRINK_STEPS = (1.0, 0.99, 0.97, 0.93, 0.85, 0.7, 0.5, 0.25, 0.1)


@dataclass(frozen=True, slots=True)
class Reach:
    """How far one direction goes at one bus, in W (>= 0), and what stops it."""

    power_w: float
    binding: str


def _voltage_reach(
    vm: np.ndarray, slope: np.ndarray, limits: GridLimits
) -> tuple[np.ndarray, np.ndarray]:
    """Per row and bus: W until the band edge is reached (inf if never), and which edge
    (True = upper). ``vm`` has one value per row, ``slope`` is rows x buses."""
    with np.errstate(divide="ignore", invalid="ignore"):
        to_max = np.where(slope > 0, (limits.vm_pu_max - vm[:, None]) / slope, np.inf)
        to_min = np.where(slope < 0, (vm[:, None] - limits.vm_pu_min) / -slope, np.inf)
    return np.maximum(np.minimum(to_max, to_min), 0.0), to_max <= to_min


def _loading_reach(current: np.ndarray, slope: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Per row and bus: W until |current + p slope| = limit (p >= 0), inf if never."""
    a = np.abs(slope) ** 2
    b = 2 * np.real(np.conj(current)[:, None] * slope)
    c = (np.abs(current) ** 2 - limit**2)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        root = (-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a)
    reach = np.where(a > 0, root, np.inf)
    return np.where(c >= 0, 0.0, np.maximum(reach, 0.0))


def _nearest(model: LinearModel, limits: GridLimits, sign: float) -> list[Reach]:
    branch_limit = np.array([label.limit for label in model.branch_labels])
    n_buses = len(model.buses)
    v_reach, upper = _voltage_reach(model.vm_pu, sign * model.d_vm_pu, limits)
    l_reach = _loading_reach(model.current, sign * model.d_current, branch_limit)
    v_row = np.argmin(v_reach, axis=0) if len(v_reach) else np.zeros(n_buses, dtype=int)
    l_row = np.argmin(l_reach, axis=0) if len(l_reach) else np.zeros(n_buses, dtype=int)
    reaches: list[Reach] = []
    for column in range(n_buses):
        candidates = []
        if len(v_reach):
            row = v_row[column]
            metric = "vm_pu_max" if upper[row, column] else "vm_pu_min"
            candidates.append(
                (float(v_reach[row, column]), f"{model.bus_labels[row].element} {metric}")
            )
        if len(l_reach):
            row = l_row[column]
            label = model.branch_labels[row]
            candidates.append((float(l_reach[row, column]), f"{label.element} {label.metric}"))
        power_w, binding = min(candidates, default=(np.inf, "none"))
        if power_w >= MAX_HEADROOM_W:
            power_w, binding = MAX_HEADROOM_W, f"none within {MAX_HEADROOM_W:.0f} W"
        reaches.append(Reach(power_w, binding))
    return reaches


def linear_reach(model: LinearModel, limits: GridLimits) -> list[tuple[Reach, Reach]]:
    """(charge, discharge) reach per model bus, to first order."""
    return list(zip(_nearest(model, limits, 1.0), _nearest(model, limits, -1.0), strict=True))


def _chunked_reach(
    point: Linearisation, buses: Sequence[int], limits: GridLimits
) -> list[tuple[Reach, Reach]]:
    """linear_reach over many buses, CHUNK_BUSES at a time (bounded memory)."""
    reaches: list[tuple[Reach, Reach]] = []
    for start in range(0, len(buses), CHUNK_BUSES):
        reaches += linear_reach(point.model(list(buses[start : start + CHUNK_BUSES])), limits)
    return reaches


def _verify(
    check: AcGridCheck, base: Sequence[Injection], bus: int, sign: float, estimate: Reach
) -> Reach:
    """The largest fraction of the estimate that passes the AC check."""
    for fraction in SHRINK_STEPS:
        power_w = estimate.power_w * fraction
        verdict: GridVerdict = check.check([*base, Injection(bus, sign * power_w)])
        if verdict.ok:
            return Reach(power_w, estimate.binding)
    return Reach(0.0, estimate.binding)


def headroom(
    check: AcGridCheck, buses: Sequence[int], base: Sequence[Injection] = (), verify: bool = True
) -> list[Headroom]:
    """Per bus: extra charging and discharging power (W) that fits on top of ``base``,
    alone at that bus, with the element that binds each way."""
    network = check.network
    base_verdict = check.check(base)
    if not base_verdict.ok:
        reason = "the operating point already violates a limit"
        return [Headroom(b, network.bus_name(b), 0.0, reason, 0.0, reason) for b in buses]
    results: list[Headroom] = []
    for bus, (linear_charge, linear_discharge) in zip(
        buses,
        _chunked_reach(check.operating_point(base), buses, check.limits),
        strict=True,
    ):
        charge, discharge = linear_charge, linear_discharge
        if verify:
            charge = _verify(check, base, bus, 1.0, linear_charge)
            discharge = _verify(check, base, bus, -1.0, linear_discharge)
        results.append(
            Headroom(
                bus,
                network.bus_name(bus),
                charge.power_w,
                charge.binding,
                discharge.power_w,
                discharge.binding,
            )
        )
    return results


def hosting_capacity(check: AcGridCheck, verify_up_to_buses: int = 200) -> list[Headroom]:
    """Per in-service bus (the slack excluded): the largest charger, charging and
    discharging, that could be added there alone. A planning aid for siting stations.

    Networks with more buses than ``verify_up_to_buses`` get the linear estimate only
    (the AC verification of every bus would take one solve per bus and step); callers
    verify the sites they shortlist with ``headroom``.
    """
    net = check.network.net
    slack = slack_buses(net)
    buses = [int(b) for b in net.bus.index[net.bus.in_service] if b not in slack]
    return headroom(check, buses, verify=len(buses) <= verify_up_to_buses)
