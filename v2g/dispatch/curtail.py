"""The last word before dispatch: one AC check of the current slot, and curtailment
(bounded bisection towards no EV power) when the AC result disagrees with the plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    violations: tuple[Violation, ...] = ()


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


def _bisect(
    grid: GridModel,
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    base: Sequence[Injection],
    scaled: set[str],
) -> tuple[float, GridVerdict | None, int]:
    """The largest share (of 1) of the ``scaled`` vehicles' power that passes with
    everyone else as planned, by bisection; its verdict (None if no share passed)."""

    def trial(share: float) -> GridVerdict:
        scaled_power = {k: (share * p if k in scaled else p) for k, p in power_w.items()}
        return grid.check(_injections(scaled_power, bus_of, 1.0, base))

    good, bad, checks = 0.0, 1.0, 0
    good_verdict: GridVerdict | None = None
    for _ in range(MAX_BISECTIONS):
        middle = 0.5 * (good + bad)
        verdict = trial(middle)
        checks += 1
        if verdict.ok:
            good, good_verdict = middle, verdict
        else:
            bad = middle
    if good_verdict is None:
        zero = trial(0.0)
        checks += 1
        if zero.ok:
            good_verdict = zero
    return good, good_verdict, checks


def verify(
    grid: GridModel,
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    base: Sequence[Injection],
    near: Callable[[Violation], set[str]] | None = None,
) -> Verified:
    """``power_w`` if the AC check passes. Else curtail: first only the vehicles
    ``near`` the violated element (those whose power weighs on it), by bisection on
    their share; if that cannot pass, everyone's. At worst no EV power at all (fail
    closed: when even that fails, the base load alone breaks a limit)."""
    verdict = grid.check(_injections(power_w, bus_of, 1.0, base))
    if verdict.ok:
        return Verified(dict(power_w), verdict, 1.0, 1)
    cause = (
        verdict.violations[0] if verdict.violations else Violation("power flow", "converged", 0, 1)
    )
    checks = 1
    everyone = set(power_w)
    scopes = [near(cause) & everyone] if near is not None else []
    for scaled in [s for s in scopes if s and s != everyone] + [everyone]:
        share, passed, spent = _bisect(grid, power_w, bus_of, base, scaled)
        checks += spent
        if passed is not None:
            kept = {k: (share * p if k in scaled else p) for k, p in power_w.items()}
            total = sum(abs(p) for p in power_w.values()) or 1.0
            fraction = sum(abs(p) for p in kept.values()) / total
            return Verified(kept, passed, fraction, checks, cause, verdict.violations)
    zero = dict.fromkeys(power_w, 0.0)
    final = grid.check(_injections(zero, bus_of, 1.0, base))
    return Verified(zero, final, 0.0, checks + 1, cause, verdict.violations)
