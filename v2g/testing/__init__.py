"""Fakes shipped with the package for pure-logic tests (real peers are used elsewhere)."""

from __future__ import annotations

from datetime import datetime, timedelta

from v2g.clock import require_aware


class FakeClock:
    """A Clock that stands still until told to move."""

    def __init__(self, start: datetime) -> None:
        require_aware(start, "start")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class FakeMonotonic:
    """A monotonic seconds counter (for power-stage ramps) moved by hand; call it."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds
