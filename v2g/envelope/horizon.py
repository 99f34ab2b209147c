"""The planning horizon: slots from a start time, equal or cut to the clock and to events.

A plan's slots follow the clock, as markets settle (quarter hours for 900 s slots):
the first slot runs from now to the clock's next slot boundary, and every DR event
start or end inside the horizon cuts the slot it falls in, so a plan starts and stops
delivering at an event's exact boundaries, whatever its length (issue 22).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from v2g.clock import require_aware

#: A first slot (now to the clock's next boundary) shorter than this share of a slot
#: joins the next slot: a plan for a few seconds would be planned at almost no weight.
MIN_FIRST_SHARE = 0.1
#: Boundaries closer than this (s) are one boundary (event times are exact to the
#: microsecond; a slot of a millisecond plans nothing).
MIN_SLOT_S = 1e-3

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Horizon:
    """``slots`` slots from ``start``: each ``slot_s`` seconds long, or, when ``ends_s``
    is given, slot k ends ``ends_s[k]`` seconds after ``start`` (slots of any length;
    ``slot_s`` is then the nominal length, the clock's grid). Energy in a slot is
    power times that slot's own length: use ``durations_s``/``hours``, not ``slot_h``."""

    start: datetime
    slot_s: float
    slots: int
    ends_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.start, "horizon start")
        if not (math.isfinite(self.slot_s) and self.slot_s > 0):
            raise ValueError(f"slot_s must be > 0 s, got {self.slot_s}")
        if self.slots < 1:
            raise ValueError(f"a horizon needs at least one slot, got {self.slots}")
        if self.ends_s:
            if len(self.ends_s) != self.slots:
                raise ValueError(f"{len(self.ends_s)} slot ends for {self.slots} slots")
            bounds = np.array((0.0, *self.ends_s))
            if not (np.isfinite(bounds).all() and (np.diff(bounds) > 0).all()):
                raise ValueError("slot ends must be finite and increasing from the start")

    @classmethod
    def cut(cls, start: datetime, slot_s: float, ends_s: Iterable[float]) -> Horizon:
        """Slots ending at ``ends_s`` (s after ``start``, increasing)."""
        ends = tuple(float(e) for e in ends_s)
        return cls(start, slot_s, len(ends), ends)

    @classmethod
    def aligned(
        cls, now: datetime, slot_s: float, until_s: float, cuts: Iterable[datetime] = ()
    ) -> Horizon:
        """From ``now`` to the first clock boundary at least ``until_s`` seconds later.
        Boundaries sit on the clock's multiples of ``slot_s`` (counted from the Unix
        epoch: quarter hours for 900 s, in any time zone with a whole quarter-hour
        offset); the first slot runs from now to the next of them (or the one after,
        when that is closer than ``MIN_FIRST_SHARE`` of a slot); every moment in
        ``cuts`` strictly inside the horizon is a boundary too (a DR event's start and
        end)."""
        require_aware(now, "horizon start")
        if not (math.isfinite(slot_s) and slot_s > 0):
            raise ValueError(f"slot_s must be > 0 s, got {slot_s}")
        # Integer microseconds: the clock's boundary is exact, not a float near it.
        slot_us = max(1, round(slot_s * 1e6))
        first_us = slot_us - (now - _EPOCH) // _US % slot_us
        if first_us < MIN_FIRST_SHARE * slot_us:
            first_us += slot_us
        first_s = first_us / 1e6
        count = max(1, math.ceil((until_s - first_s) / slot_s - 1e-9) + 1)
        grid_s = first_s + np.arange(count) * slot_s
        end_s = float(grid_s[-1])
        inside = [(c - now).total_seconds() for c in cuts]
        bounds = np.unique(
            np.concatenate([grid_s, [s for s in inside if MIN_SLOT_S <= s < end_s - MIN_SLOT_S]])
        )
        keep = np.concatenate([[True], np.diff(bounds) >= MIN_SLOT_S])
        ends = bounds[keep]
        ends[-1] = end_s  # a cut just before the end never moves the end
        return cls.cut(now, slot_s, ends)

    @property
    def offsets_s(self) -> npt.NDArray[np.float64]:
        """Slot boundaries in s after ``start``: 0, the end of slot 0, ..., the end."""
        if self.ends_s:
            return np.array((0.0, *self.ends_s))
        offsets = np.arange(self.slots + 1, dtype=np.float64) * self.slot_s
        return offsets.astype(np.float64)

    @property
    def durations_s(self) -> npt.NDArray[np.float64]:
        """Each slot's length in s."""
        durations: npt.NDArray[np.float64] = (
            np.diff(self.offsets_s) if self.ends_s else np.full(self.slots, self.slot_s)
        )
        return durations

    @property
    def hours(self) -> npt.NDArray[np.float64]:
        """Each slot's length in h (energy = power x this)."""
        hours: npt.NDArray[np.float64] = self.durations_s / 3600.0
        return hours

    @property
    def first_h(self) -> float:
        """Slot 0's length in h: what a setpoint planned now is planned for."""
        first_s = self.ends_s[0] if self.ends_s else self.slot_s
        return first_s / 3600.0

    @property
    def slot_h(self) -> float:
        """The nominal slot length in h (slot 0 and cut slots may be shorter)."""
        return self.slot_s / 3600.0

    @property
    def end(self) -> datetime:
        return self.slot_start(self.slots)

    def slot_start(self, index: int) -> datetime:
        if not self.ends_s:
            return self.start + timedelta(seconds=index * self.slot_s)
        if index <= 0:
            return self.start + timedelta(seconds=index * self.slot_s)
        if index > self.slots:
            extra = (index - self.slots) * self.slot_s
            return self.start + timedelta(seconds=self.ends_s[-1] + extra)
        return self.start + timedelta(seconds=self.ends_s[index - 1])

    def starts_before(self, seconds: float) -> int:
        """How many slots start less than ``seconds`` after ``start``."""
        return int(np.searchsorted(self.offsets_s[:-1], seconds, side="left"))
