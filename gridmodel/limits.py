"""The feeder limits a plan must respect, configurable per network."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class GridLimits:
    """Thermal limits in percent of rating and the voltage band in pu."""

    max_line_loading_percent: float = 100.0
    max_trafo_loading_percent: float = 100.0
    vm_pu_min: float = 0.95
    vm_pu_max: float = 1.05

    def __post_init__(self) -> None:
        for name in (
            "max_line_loading_percent",
            "max_trafo_loading_percent",
            "vm_pu_min",
            "vm_pu_max",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.vm_pu_min >= self.vm_pu_max:
            raise ValueError(
                f"vm_pu_min {self.vm_pu_min} must lie below vm_pu_max {self.vm_pu_max}"
            )


def with_margin(
    limits: GridLimits, loading_percent: float = 0.5, vm_pu: float = 0.002
) -> GridLimits:
    """``limits`` pulled in by a small margin (percentage points of loading, pu of
    voltage), so plans made on first-order rows land inside the AC limits."""
    return replace(
        limits,
        max_line_loading_percent=limits.max_line_loading_percent - loading_percent,
        max_trafo_loading_percent=limits.max_trafo_loading_percent - loading_percent,
        vm_pu_min=limits.vm_pu_min + vm_pu,
        vm_pu_max=limits.vm_pu_max - vm_pu,
    )
