"""The planning horizon: equal slots from a start time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.clock import require_aware


@dataclass(frozen=True, slots=True)
class Horizon:
    """``slots`` slots of ``slot_s`` seconds each, the first starting at ``start``."""

    start: datetime
    slot_s: float
    slots: int

    def __post_init__(self) -> None:
        require_aware(self.start, "horizon start")
        if not (math.isfinite(self.slot_s) and self.slot_s > 0):
            raise ValueError(f"slot_s must be > 0 s, got {self.slot_s}")
        if self.slots < 1:
            raise ValueError(f"a horizon needs at least one slot, got {self.slots}")

    @property
    def slot_h(self) -> float:
        return self.slot_s / 3600.0

    @property
    def end(self) -> datetime:
        return self.slot_start(self.slots)

    def slot_start(self, index: int) -> datetime:
        return self.start + timedelta(seconds=index * self.slot_s)
