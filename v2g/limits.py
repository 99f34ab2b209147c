"""Power limits that remember who set them.

Every bound on power carries its source ("EV max discharge", "mailbox setpoint
evt-42", "EVSE rated"), so the product can always answer *why* an EVSE runs at the
power it does. Powers are signed in W: + charges the vehicle, - discharges it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """A signed power in W (+ = charging) and the source that set it."""

    power_w: float
    source: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.power_w):
            raise ValueError(f"limit from {self.source!r} is not a finite power: {self.power_w}")
        if not self.source:
            raise ValueError("a limit needs a source")


@dataclass(frozen=True, slots=True)
class PowerBounds:
    """The signed power range [lower, upper] in W that is allowed right now.

    ``lower`` is the most negative power allowed (the deepest discharge), ``upper``
    the highest charging power. A charge-only range has ``lower.power_w >= 0``.
    """

    lower: Limit
    upper: Limit

    def __post_init__(self) -> None:
        if self.lower.power_w > self.upper.power_w:
            raise ValueError(
                f"empty power range: lower {self.lower.power_w} W ({self.lower.source}) "
                f"> upper {self.upper.power_w} W ({self.upper.source})"
            )

    @classmethod
    def symmetric(cls, max_charge_w: float, max_discharge_w: float, source: str) -> PowerBounds:
        """Bounds from two magnitudes: charge up to ``max_charge_w``, discharge up to
        ``max_discharge_w`` (both >= 0 W)."""
        return cls(Limit(0.0 - max_discharge_w, source), Limit(max_charge_w, source))

    def intersect(self, other: PowerBounds) -> PowerBounds:
        """The range allowed by both; each end keeps the source of the tighter bound.

        If the two ranges do not overlap, the result collapses onto the end of
        ``other`` nearest to ``self`` (the newer constraint wins), so the answer is
        never an empty range.
        """
        lower = self.lower if self.lower.power_w >= other.lower.power_w else other.lower
        upper = self.upper if self.upper.power_w <= other.upper.power_w else other.upper
        if lower.power_w > upper.power_w:
            point = other.lower if other.lower.power_w > self.upper.power_w else other.upper
            return PowerBounds(point, point)
        return PowerBounds(lower, upper)

    def clamp(self, wanted: Limit) -> Limit:
        """``wanted`` if it lies inside the range, else the bound that stops it."""
        if wanted.power_w > self.upper.power_w:
            return self.upper
        if wanted.power_w < self.lower.power_w:
            return self.lower
        return wanted

    @property
    def allows_discharge(self) -> bool:
        return self.lower.power_w < 0
