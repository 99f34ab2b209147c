"""Where "now" comes from. Pure code takes ``now`` as an argument; edges ask a Clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def require_aware(moment: datetime, name: str) -> None:
    """Reject naive datetimes: every time in the product carries its zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC recommended), got {moment!r}")
