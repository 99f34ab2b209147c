"""Setpoints: the power the aggregator wants at one EVSE, and how the SECC applies them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from v2g.clock import require_aware
from v2g.limits import Limit, PowerBounds


@dataclass(frozen=True, slots=True)
class Setpoint:
    """Signed power at the EVSE in W (+ = charging), valid until ``valid_until``.

    ``binding`` is the limit that shaped the value (for example
    ``Limit(-3000, "dr evt-42 rev 3")``), so the answer to "why this power?" travels
    with the number. ``session_id`` is the charging session it was planned for: the
    SECC applies it to that session only (None: planned for no session, applied to
    none), so a discharge meant for one vehicle never reaches the next one.
    """

    power_w: float
    valid_until: datetime
    binding: Limit
    session_id: str | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.power_w):
            raise ValueError(f"setpoint power is not finite: {self.power_w}")
        require_aware(self.valid_until, "valid_until")
        if self.session_id is not None and not self.session_id:
            raise ValueError("a setpoint's session_id is None or a non-empty id")

    @classmethod
    def from_source(
        cls, power_w: float, valid_until: datetime, source: str, session_id: str | None = None
    ) -> Setpoint:
        return cls(power_w, valid_until, Limit(power_w, source), session_id)

    def for_session(self, session_id: str) -> Setpoint:
        """This setpoint bound to ``session_id``."""
        # Built directly, not by dataclasses.replace: 10,000 of these a cycle.
        return Setpoint(self.power_w, self.valid_until, self.binding, session_id)

    def is_stale(self, now: datetime) -> bool:
        return now >= self.valid_until


def safe_fallback(fallback: Limit) -> Limit:
    """The fallback power, floored at 0 W: a fallback never discharges."""
    if fallback.power_w < 0:
        return Limit(0.0, f"{fallback.source} (floored: fallback never discharges)")
    return fallback


def power_to_apply(
    setpoint: Setpoint | None, now: datetime, bounds: PowerBounds, fallback: Limit
) -> Limit:
    """The signed power the EVSE should run at now, with the limit that set it.

    A missing or stale setpoint (``now >= valid_until``) gives way to ``fallback``,
    which never discharges, whatever ``bounds`` allow. A fresh setpoint is clamped
    to ``bounds`` (the EV's and the EVSE's limits), and the clamping bound becomes the
    binding limit.
    """
    if setpoint is None or setpoint.is_stale(now):
        reason = "no setpoint" if setpoint is None else "stale setpoint"
        safe = safe_fallback(fallback)
        wanted = Limit(safe.power_w, f"{reason}: {safe.source}")
        applied = bounds.clamp(wanted)
        if applied.power_w < 0:
            return Limit(0.0, f"{reason}: fallback never discharges")
        return applied
    return bounds.clamp(Limit(setpoint.power_w, setpoint.binding.source))
