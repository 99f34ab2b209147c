"""Step curves over time (prices, base-load profiles): each value holds from its time on."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from v2g.clock import require_aware


@dataclass(frozen=True)
class StepCurve:
    """``(time, value)`` points, sorted; before the first point the curve is ``before``."""

    points: tuple[tuple[datetime, float], ...]
    before: float = 0.0

    def __post_init__(self) -> None:
        for at, value in self.points:
            require_aware(at, "curve point")
            if not math.isfinite(value):
                raise ValueError(f"curve value at {at.isoformat()} is not finite: {value}")
        object.__setattr__(self, "points", tuple(sorted(self.points)))

    @classmethod
    def of(cls, points: Iterable[tuple[datetime, float]], before: float = 0.0) -> StepCurve:
        return cls(tuple(points), before)

    def at(self, moment: datetime) -> float:
        value = self.before
        for at, point in self.points:
            if at > moment:
                break
            value = point
        return value

    def sample(self, moments: Iterable[datetime]) -> npt.NDArray[np.float64]:
        return np.array([self.at(m) for m in moments], dtype=float)
