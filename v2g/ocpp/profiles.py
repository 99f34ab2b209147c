"""When a setpoint becomes a new SetChargingProfile: only when it changed beyond a
deadband, and always before the profile the station runs expires (after which the
station falls back to its own limits, which never discharge)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.session import Setpoint


@dataclass(frozen=True, slots=True)
class ProfilePolicy:
    """``deadband_w``: a change smaller than this (W) is not worth a message;
    ``renew_before_s``: a profile this close to expiry is renewed even unchanged. It
    must exceed the control interval, or the cycle that should renew it comes late."""

    deadband_w: float = 100.0
    renew_before_s: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.deadband_w) and self.deadband_w >= 0):
            raise ValueError(f"deadband_w must be a finite number >= 0, got {self.deadband_w}")
        if not (math.isfinite(self.renew_before_s) and self.renew_before_s > 0):
            raise ValueError(f"renew_before_s must be > 0, got {self.renew_before_s}")

    def wants_sending(self, running: Setpoint | None, new: Setpoint, now: datetime) -> bool:
        """True when ``new`` must go out, given the profile the station ``running``."""
        if running is None or running.is_stale(now):
            return True
        if (running.power_w < 0) != (new.power_w < 0):
            return True  # crossing zero changes direction: never held back by a deadband
        if abs(new.power_w - running.power_w) > self.deadband_w:
            return True
        expires_soon = running.valid_until - now <= timedelta(seconds=self.renew_before_s)
        return expires_soon and new.valid_until > running.valid_until
