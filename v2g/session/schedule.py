"""Power schedules offered to a vehicle (ISO 15118-20 scheduled mode, -2 SAScheduleTuple)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from v2g.limits import Limit, PowerBounds
from v2g.session.setpoint import Setpoint, power_to_apply


@dataclass(frozen=True, slots=True)
class PowerSlot:
    """``duration_s`` seconds at a signed power (W, + = charging) and its binding limit."""

    duration_s: int
    power: Limit

    def __post_init__(self) -> None:
        if self.duration_s <= 0:
            raise ValueError(f"a slot lasts at least 1 s, got {self.duration_s}")

    @property
    def power_w(self) -> float:
        return self.power.power_w


@dataclass(frozen=True, slots=True)
class PowerSchedule:
    """Consecutive power slots starting at ``start``."""

    start: datetime
    slots: tuple[PowerSlot, ...]

    @property
    def duration_s(self) -> int:
        return sum(slot.duration_s for slot in self.slots)


def schedule_from_setpoint(
    setpoint: Setpoint | None,
    now: datetime,
    bounds: PowerBounds,
    fallback: Limit,
    horizon_s: int,
) -> PowerSchedule:
    """The schedule that honours the mailbox: the setpoint until it expires, then the
    fallback (which never discharges) up to ``horizon_s``.

    Discharge slots stay negative; translating them to a protocol's separate charge
    and discharge schedules is the SECC translation layer's job.
    """
    slots: list[PowerSlot] = []
    remaining_s = horizon_s
    if setpoint is not None and not setpoint.is_stale(now):
        valid_s = min(remaining_s, max(1, int((setpoint.valid_until - now).total_seconds())))
        slots.append(PowerSlot(valid_s, power_to_apply(setpoint, now, bounds, fallback)))
        remaining_s -= valid_s
    if remaining_s > 0:
        slots.append(PowerSlot(remaining_s, power_to_apply(None, now, bounds, fallback)))
    return PowerSchedule(now, tuple(slots))
