"""The last word before dispatch: one AC check of the current slot, and curtailment
(bounded back-off towards no EV power) when the AC result disagrees with the plan."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gridmodel import GridVerdict, Injection, Violation
from v2g.dispatch.grid import GridModel

#: Shares of the planned power tried in turn when the AC check disagrees: the linear
#: rows are usually off by a few percent, so the first steps are small ones.
BACK_OFF = (0.995, 0.97, 0.9, 0.75, 0.5, 0.25, 0.0)
#: Halvings between the share that passed and the one that failed before it.
REFINE = 3


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


def _back_off(
    grid: GridModel,
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    base: Sequence[Injection],
    scaled: set[str],
) -> tuple[float, GridVerdict | None, int]:
    """The largest share of the ``scaled`` vehicles' power found to pass with everyone
    else as planned, and its verdict (None if not even 0 passes): the first share in
    BACK_OFF that passes, refined by REFINE halvings towards the last one that failed."""

    def trial(share: float) -> GridVerdict:
        scaled_power = {k: (share * p if k in scaled else p) for k, p in power_w.items()}
        return grid.check(_injections(scaled_power, bus_of, 1.0, base))

    failed, checks = 1.0, 0
    for step in BACK_OFF:
        verdict = trial(step)
        checks += 1
        if not verdict.ok:
            failed = step
            continue
        passed = step
        for _ in range(REFINE if step < BACK_OFF[0] else 0):
            middle = 0.5 * (passed + failed)
            tried = trial(middle)
            checks += 1
            if tried.ok:
                passed, verdict = middle, tried
            else:
                failed = middle
        return passed, verdict, checks
    return 0.0, None, checks


def verify(
    grid: GridModel,
    power_w: Mapping[str, float],
    bus_of: Mapping[str, int],
    base: Sequence[Injection],
    near: Callable[[Violation], set[str]] | None = None,
) -> Verified:
    """``power_w`` if the AC check passes. Else curtail: first only the vehicles
    ``near`` the violated element (those whose power weighs on it), backing off their
    share step by step (BACK_OFF); if that cannot pass, everyone's. At worst no EV
    power at all (fail closed: when even that fails, the base load alone breaks a
    limit)."""
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
        share, passed, spent = _back_off(grid, power_w, bus_of, base, scaled)
        checks += spent
        if passed is not None:
            kept = {k: (share * p if k in scaled else p) for k, p in power_w.items()}
            total = sum(abs(p) for p in power_w.values()) or 1.0
            fraction = sum(abs(p) for p in kept.values()) / total
            return Verified(kept, passed, fraction, checks, cause, verdict.violations)
    zero = dict.fromkeys(power_w, 0.0)
    final = grid.check(_injections(zero, bus_of, 1.0, base))
    return Verified(zero, final, 0.0, checks + 1, cause, verdict.violations)
