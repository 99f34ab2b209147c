"""The last word before dispatch: one AC check of the current slot, and curtailment
(bounded bisection towards no EV power) when the AC result disagrees with the plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gridmodel import GridVerdict, Injection, Violation
from v2g.dispatch.grid import GridModel

#: AC checks spent on curtailment at most (each halves the remaining interval).
MAX_BISECTIONS = 6


@dataclass(frozen=True)
class Verified:
    """EV power per vehicle in W that passed the AC check (``verdict``), the share of
    the planned power that survived (1.0 = none curtailed), the violation that made
    the plan curtailed (None if it passed as planned) and the checks spent."""

    power_w: Mapping[str, float]
    verdict: GridVerdict
    kept: float
    checks: int
    cause: Violation | None = None


def _injections(
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    scale: float,
    base: Sequence[Injection],
) -> list[Injection]:
    per_bus: dict[int, float] = {}
    for evse_id, power in power_w.items():
        per_bus[bus_of[evse_id]] = per_bus.get(bus_of[evse_id], 0.0) + scale * power
    return [*base, *(Injection(bus, p) for bus, p in per_bus.items() if p)]


def verify(
    grid: GridModel,
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    base: Sequence[Injection],
) -> Verified:
    """``power_w`` if the AC check passes; else the largest found share of it that does
    (bisection, at most MAX_BISECTIONS more checks); else no EV power at all (fail
    closed: when even that fails, the base load alone breaks a limit)."""
    verdict = grid.check(_injections(power_w, bus_of, 1.0, base))
    if verdict.ok:
        return Verified(dict(power_w), verdict, 1.0, 1)
    cause = (
        verdict.violations[0] if verdict.violations else Violation("power flow", "converged", 0, 1)
    )
    good, bad, checks = 0.0, 1.0, 1
    good_verdict: GridVerdict | None = None
    for _ in range(MAX_BISECTIONS):
        middle = 0.5 * (good + bad)
        trial = grid.check(_injections(power_w, bus_of, middle, base))
        checks += 1
        if trial.ok:
            good, good_verdict = middle, trial
        else:
            bad = middle
    if good_verdict is None:
        good_verdict = grid.check(_injections(power_w, bus_of, 0.0, base))
        checks += 1
    return Verified({k: good * p for k, p in power_w.items()}, good_verdict, good, checks, cause)
