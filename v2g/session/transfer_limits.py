"""How much power a vehicle (or an EVSE) can take and give."""

from __future__ import annotations

from dataclasses import dataclass

from v2g.limits import Limit, PowerBounds
from v2g.session.needs import InvalidSessionData, require_finite

#: Upper end of physically plausible values. ISO 15118-20 MCS tops out at 3.75 MW,
#: 1250 V and 3000 A; anything beyond is a corrupt report, not a big vehicle.
MAX_PLAUSIBLE_POWER_W = 5_000_000.0
MAX_PLAUSIBLE_VOLTAGE_V = 1_500.0
MAX_PLAUSIBLE_CURRENT_A = 3_500.0


def _require_range(value: float | None, name: str, upper: float) -> None:
    require_finite(value, name)
    if value is not None and not 0 <= value <= upper:
        raise InvalidSessionData(f"{name} must lie within 0..{upper:g}, got {value}")


@dataclass(frozen=True, slots=True)
class DischargeLimits:
    """The discharge side of a bidirectional transfer, as magnitudes in W (>= 0)."""

    max_power_w: float
    min_power_w: float = 0.0

    def __post_init__(self) -> None:
        _require_range(self.max_power_w, "max_discharge_power_w", MAX_PLAUSIBLE_POWER_W)
        _require_range(self.min_power_w, "min_discharge_power_w", MAX_PLAUSIBLE_POWER_W)
        if self.min_power_w > self.max_power_w:
            raise InvalidSessionData(
                f"min_discharge_power_w {self.min_power_w} > max_discharge_power_w "
                f"{self.max_power_w}"
            )


@dataclass(frozen=True, slots=True)
class TransferLimits:
    """Power, voltage and current limits of one side of a charging session.

    Charge limits are magnitudes in W (>= 0). ``discharge`` is None when that side
    cannot discharge (unidirectional vehicle or EVSE, or a non-BPT session).
    """

    max_charge_power_w: float
    min_charge_power_w: float = 0.0
    discharge: DischargeLimits | None = None
    max_voltage_v: float | None = None
    min_voltage_v: float | None = None
    max_current_a: float | None = None

    def __post_init__(self) -> None:
        _require_range(self.max_charge_power_w, "max_charge_power_w", MAX_PLAUSIBLE_POWER_W)
        _require_range(self.min_charge_power_w, "min_charge_power_w", MAX_PLAUSIBLE_POWER_W)
        if self.min_charge_power_w > self.max_charge_power_w:
            raise InvalidSessionData(
                f"min_charge_power_w {self.min_charge_power_w} > max_charge_power_w "
                f"{self.max_charge_power_w}"
            )
        _require_range(self.max_voltage_v, "max_voltage_v", MAX_PLAUSIBLE_VOLTAGE_V)
        _require_range(self.min_voltage_v, "min_voltage_v", MAX_PLAUSIBLE_VOLTAGE_V)
        _require_range(self.max_current_a, "max_current_a", MAX_PLAUSIBLE_CURRENT_A)
        if (
            self.min_voltage_v is not None
            and self.max_voltage_v is not None
            and self.min_voltage_v > self.max_voltage_v
        ):
            raise InvalidSessionData(
                f"min_voltage_v {self.min_voltage_v} > max_voltage_v {self.max_voltage_v}"
            )

    @property
    def max_discharge_power_w(self) -> float:
        """Discharge magnitude in W; 0 when this side cannot discharge."""
        return self.discharge.max_power_w if self.discharge else 0.0

    def bounds(self, source: str) -> PowerBounds:
        """The signed power range these limits allow, each end tagged with ``source``."""
        return PowerBounds(
            Limit(0.0 - self.max_discharge_power_w, f"{source} max discharge"),
            Limit(self.max_charge_power_w, f"{source} max charge"),
        )
