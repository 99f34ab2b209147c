"""The demo's base load against the feeder's own limits.

Some built-in networks break their own limits before any car plugs in: CIGRE MV with
its loads at 90 % loads its transformer to 92 % and sags to 0.930 pu against a 0.95 pu
band. A demo on such a feeder would report every cycle as a violation and every
setpoint as a fallback, without saying why. So before the day starts the demo checks
the base case at the profile's peak; when it fails, it scales the base-load profile
down to what the feeder carries with a margin (and says so), or refuses when even a
light load breaks the limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gridmodel import GridVerdict

#: Of the largest base-load scale the feeder carries, the share the demo uses: room
#: left for the fleet on top.
MARGIN = 0.9
#: Below this scale the network is not a demo feeder (its limits break unloaded).
SMALLEST_SCALE = 0.05
#: Bisection steps: the scale to within 1/2**8 of its bound.
STEPS = 8


class BrokenBaseCase(Exception):
    """A feeder that breaks its own limits with (almost) none of its loads (exit 2)."""


@dataclass(frozen=True, slots=True)
class BaseLoadFit:
    """The factor the demo multiplies its base-load profile by (1.0: as designed), and
    the base-case verdict at the profile's unscaled peak."""

    scale: float
    at_peak: GridVerdict

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 1:
            raise ValueError(f"scale must lie within (0, 1], got {self.scale}")

    @property
    def scaled(self) -> bool:
        return self.scale < 1.0


def fit_base_load(check: Callable[[float], GridVerdict], peak_factor: float) -> BaseLoadFit:
    """The base-load scale for a profile peaking at ``peak_factor``; ``check(factor)``
    is the AC verdict of the network's own loads times ``factor`` (no vehicles)."""
    at_peak = check(peak_factor)
    if at_peak.ok:
        return BaseLoadFit(1.0, at_peak)
    if not check(peak_factor * SMALLEST_SCALE).ok:
        raise BrokenBaseCase(
            f"the network breaks its own limits even at {SMALLEST_SCALE:.0%} of the demo's "
            f"peak base load ({describe(at_peak)}); pick another --feeder"
        )
    low, high = SMALLEST_SCALE, 1.0  # low carries, high breaks
    for _ in range(STEPS):
        middle = (low + high) / 2
        low, high = (middle, high) if check(peak_factor * middle).ok else (low, middle)
    return BaseLoadFit(round(low * MARGIN, 3), at_peak)


def describe(verdict: GridVerdict, most: int = 2) -> str:
    """The first ``most`` broken limits of ``verdict`` for one line."""
    if not verdict.converged:
        return "the power flow does not converge"
    shown = [
        f"{v.element} {v.metric} {v.value:.3g} against {v.limit:.3g}"
        for v in verdict.violations[:most]
    ]
    more = len(verdict.violations) - len(shown)
    return "; ".join(shown) + (f"; {more} more" if more > 0 else "")


def fit_notice(network_name: str, peak_factor: float, fit: BaseLoadFit) -> str:
    """What the demo says at start when it scaled the base load."""
    return (
        f"{network_name} breaks its own limits before any car plugs in, with its loads at "
        f"{peak_factor:.0%} ({describe(fit.at_peak)}): the demo scales its base-load "
        f"profile by {fit.scale:.2f} (peak {peak_factor * fit.scale:.0%} of the network's "
        "loads) so the day starts within the limits"
    )
