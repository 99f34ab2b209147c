"""What a vehicle asks for: energy requests, state of charge and departure time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from v2g.clock import require_aware


class InvalidSessionData(ValueError):
    """Data reported by (or about) a vehicle that cannot be physically right."""


#: Largest battery the product accepts as real (a heavy truck has ~1 MWh); beyond it
#: the report is treated as corrupt rather than believed.
MAX_BATTERY_CAPACITY_WH = 5_000_000.0


def require_finite(value: float | None, name: str) -> None:
    if value is not None and not math.isfinite(value):
        raise InvalidSessionData(f"{name} is not a finite number: {value}")


@dataclass(frozen=True, slots=True)
class ChargeNeeds:
    """The vehicle's needs as of ``reported_at``.

    Energy requests follow ISO 15118-20 (EVMinimum/Target/MaximumEnergyRequest):
    energy in Wh to transfer *from now* to reach the minimum, target and maximum
    state of charge. The minimum may be negative: a bidirectional vehicle above its
    minimum SoC can give that much energy back. ``min_v2x_energy_wh`` and
    ``max_v2x_energy_wh`` (-20 BPT dynamic mode: EVMinimum/MaximumV2XEnergyRequest) bound
    the energy from now within which the vehicle lets itself be charged and discharged
    for the grid; the minimum is negative when it may give energy back. Any field the
    vehicle did not report is None (DIN SPEC 70121 and ISO 15118-2 report far less than
    -20).
    """

    reported_at: datetime
    departure: datetime | None = None
    soc_percent: float | None = None
    min_soc_percent: float | None = None
    target_soc_percent: float | None = None
    max_soc_percent: float | None = None
    battery_capacity_wh: float | None = None
    min_energy_wh: float | None = None
    target_energy_wh: float | None = None
    max_energy_wh: float | None = None
    min_v2x_energy_wh: float | None = None
    max_v2x_energy_wh: float | None = None

    def __post_init__(self) -> None:
        require_aware(self.reported_at, "reported_at")
        if self.departure is not None:
            require_aware(self.departure, "departure")
            if self.departure < self.reported_at:
                raise InvalidSessionData(
                    f"departure {self.departure.isoformat()} lies before the report "
                    f"({self.reported_at.isoformat()})"
                )
        for name in ("soc_percent", "min_soc_percent", "target_soc_percent", "max_soc_percent"):
            value = getattr(self, name)
            require_finite(value, name)
            if value is not None and not 0 <= value <= 100:
                raise InvalidSessionData(f"{name} must lie within 0..100 %, got {value}")
        for name in (
            "battery_capacity_wh",
            "min_energy_wh",
            "target_energy_wh",
            "max_energy_wh",
            "min_v2x_energy_wh",
            "max_v2x_energy_wh",
        ):
            require_finite(getattr(self, name), name)
        if self.battery_capacity_wh is not None and not (
            0 < self.battery_capacity_wh <= MAX_BATTERY_CAPACITY_WH
        ):
            raise InvalidSessionData(
                f"battery_capacity_wh must lie within 0..{MAX_BATTERY_CAPACITY_WH:.0f} Wh, "
                f"got {self.battery_capacity_wh}"
            )
        for name in ("target_energy_wh", "max_energy_wh"):
            value = getattr(self, name)
            if (
                value is not None
                and self.battery_capacity_wh is not None
                and (abs(value) > self.battery_capacity_wh)
            ):
                raise InvalidSessionData(
                    f"{name} {value} Wh exceeds the battery capacity {self.battery_capacity_wh} Wh"
                )
        requests = [
            v
            for v in (self.min_energy_wh, self.target_energy_wh, self.max_energy_wh)
            if v is not None
        ]
        if requests != sorted(requests):
            raise InvalidSessionData(
                "energy requests must satisfy min <= target <= max, got "
                f"{self.min_energy_wh} / {self.target_energy_wh} / {self.max_energy_wh} Wh"
            )
        if (
            self.min_v2x_energy_wh is not None
            and self.max_v2x_energy_wh is not None
            and self.min_v2x_energy_wh > self.max_v2x_energy_wh
        ):
            raise InvalidSessionData(
                "V2X energy requests must satisfy min <= max, got "
                f"{self.min_v2x_energy_wh} / {self.max_v2x_energy_wh} Wh"
            )

    @property
    def has_energy_requests(self) -> bool:
        """The vehicle stated its needs as -20 energy requests (energy from now)."""
        return any(
            v is not None for v in (self.min_energy_wh, self.target_energy_wh, self.max_energy_wh)
        )
