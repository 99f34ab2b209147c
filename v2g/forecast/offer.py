"""What the fleet can offer a utility for a window tomorrow, with a stated confidence.

Arrivals, dwell times and energy needs are not modelled by a formula: the history is
resampled (a bootstrap of similar days: working days or weekends, else any day), so the
offer carries the history's own spread. For each resampled day the flexibility per
slot is computed from the sessions present; the offer at confidence ``c`` is the
power reached on a share ``c`` of the days (P90: reached on 90 % of them).

A session's flexibility in a slot, with ``slack`` the charging time it can spare
(dwell minus the time its need takes at full power):

- ``shed_w``: the charging it would draw then if charged at once on arrival, which it
  can defer (only while its slack lasts past the window);
- ``export_w``: V2G sessions only, their discharge power while the energy they give
  back can still be recharged in their slack (give back e, recharge e: 2e/P of time).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

MIN_HISTORY_DAYS = 14
SAMPLES = 400


@dataclass(frozen=True, slots=True)
class PastSession:
    """A session as the history knows it."""

    arrival: datetime
    dwell_s: float
    energy_wh: float
    max_charge_w: float
    max_discharge_w: float

    @property
    def v2g(self) -> bool:
        return self.max_discharge_w > 0


@dataclass(frozen=True, slots=True)
class OfferSlot:
    start: datetime
    export_w: float
    shed_w: float


@dataclass(frozen=True, slots=True)
class Offer:
    start: datetime
    end: datetime
    confidence: float
    slots: tuple[OfferSlot, ...]
    #: How the offer was made: from history, or only from what is plugged in now.
    basis: str


class DayAheadOffers(Protocol):
    """Day-ahead offers as the utility channels ask for them
    (v2g.aggregator.offers.StoreOffers)."""

    async def offer(self, start: datetime, end: datetime, confidence: float) -> Offer: ...

    async def hourly(self, day: datetime, confidence: float) -> list[Offer]:
        """The 24 one-hour offers from ``day`` on."""
        ...


#: The confidences the channels report offers at (P50 and P90), and the kinds.
REPORTED_CONFIDENCES = (0.5, 0.9)


def hourly_table(
    hours_by_confidence: dict[float, list[Offer]],
) -> dict[tuple[str, float], list[tuple[datetime, float]]]:
    """Per (``export_w`` or ``shed_w``, confidence): each hour's start and the least of
    its slots (what can be held through the hour)."""
    return {
        (what, c): [(o.start, min(getattr(s, what) for s in o.slots)) for o in hours]
        for c, hours in hours_by_confidence.items()
        for what in ("export_w", "shed_w")
    }


def flexibility(
    sessions: Sequence[PastSession], slot_starts: Sequence[datetime], slot_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(export_w, shed_w) per slot for ``sessions`` (present ones count)."""
    export = np.zeros(len(slot_starts))
    shed = np.zeros(len(slot_starts))
    window_end = slot_starts[-1] + timedelta(seconds=slot_s)
    for s in sessions:
        if s.max_charge_w <= 0:
            continue
        departure = s.arrival + timedelta(seconds=s.dwell_s)
        need_s = s.energy_wh / s.max_charge_w * 3600.0
        slack_s = s.dwell_s - need_s
        if slack_s <= 0:
            continue
        for k, start in enumerate(slot_starts):
            if not (s.arrival <= start and start + timedelta(seconds=slot_s) <= departure):
                continue
            charging_until = s.arrival + timedelta(seconds=need_s)
            left_s = (window_end - start).total_seconds()
            if start < charging_until and slack_s >= left_s:
                shed[k] += s.max_charge_w
            if s.v2g:
                # Export for the rest of the window, then recharge it: 2x the time.
                giveback_s = min(left_s, slack_s / 2.0)
                if giveback_s >= left_s:
                    export[k] += s.max_discharge_w
    return export, shed


def day_ahead_offer(
    history: Sequence[PastSession],
    plugged: Sequence[PastSession],
    start: datetime,
    end: datetime,
    confidence: float,
    now: datetime,
    slot_s: float = 900.0,
    seed: int = 0,
) -> Offer:
    """The offer for ``start``..``end`` made at ``now``: from ``history`` (at least two
    weeks: arrivals after ``now``) and the sessions ``plugged`` in now; with less
    history, from those plugged in alone."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if not start < end:
        raise ValueError("start must be before end")
    slots = []
    t = start
    while t < end:
        slots.append(t)
        t += timedelta(seconds=slot_s)
    days = _days(history)
    if len(days) < MIN_HISTORY_DAYS:
        export, shed = flexibility(plugged, slots, slot_s)
        basis = (
            f"only the {len(plugged)} vehicles plugged in now: {len(days)} days of history, "
            f"{MIN_HISTORY_DAYS} needed to forecast arrivals"
        )
        return Offer(start, end, confidence, _slots(slots, export, shed), basis)
    rng = np.random.default_rng(seed)
    samples = np.array(
        [
            np.concatenate(
                flexibility([*plugged, *_resampled(days, start, now, rng)], slots, slot_s)
            )
            for _ in range(SAMPLES)
        ]
    )
    n = len(slots)
    # Finite history: aim a little higher, as split conformal prediction does
    # (the (n + 1) c / n quantile of n days).
    aim = min(1.0, math.ceil((len(days) + 1) * confidence) / len(days))
    export = _jointly_reached(samples[:, :n], aim)
    shed = _jointly_reached(samples[:, n:], aim)
    basis = (
        f"{len(days)} days of history resampled {SAMPLES} times, and the {len(plugged)} plugged in"
    )
    return Offer(start, end, confidence, _slots(slots, export, shed), basis)


def _jointly_reached(samples: np.ndarray, confidence: float) -> np.ndarray:
    """The per-slot profile that a share ``confidence`` of the sampled days reach in
    every slot at once (a utility calls the whole window; a per-slot quantile alone is
    reached in every slot on fewer days): the per-slot quantile level is lowered until
    the joint share holds."""
    low, high = 0.0, max(0.0, 1.0 - confidence)
    for _ in range(20):
        level = (low + high) / 2
        profile = np.quantile(samples, level, axis=0)
        share = float(np.mean(np.all(samples >= profile - 1e-9, axis=1)))
        low, high = (level, high) if share >= confidence else (low, level)
    return np.asarray(np.quantile(samples, low, axis=0))


def _days(history: Sequence[PastSession]) -> dict[datetime, list[PastSession]]:
    days: dict[datetime, list[PastSession]] = {}
    for s in history:
        day = s.arrival.replace(hour=0, minute=0, second=0, microsecond=0)
        days.setdefault(day, []).append(s)
    return days


def _resampled(
    days: dict[datetime, list[PastSession]],
    start: datetime,
    now: datetime,
    rng: np.random.Generator,
) -> list[PastSession]:
    """The sessions of one past day like the window's (the same day type, if the
    history has some), moved to the window's day; and of the day before (overnight stays); only
    arrivals after ``now`` (the ones before are the ones plugged in)."""
    target = start.replace(hour=0, minute=0, second=0, microsecond=0)
    moved = []
    for offset in (0, -1):
        day = target + timedelta(days=offset)
        alike = [d for d in days if _day_type(d) == _day_type(day)] or list(days)
        chosen = alike[int(rng.integers(len(alike)))]
        shift = day - chosen
        moved += [
            PastSession(
                s.arrival + shift, s.dwell_s, s.energy_wh, s.max_charge_w, s.max_discharge_w
            )
            for s in days[chosen]
            if s.arrival + shift > now
        ]
    return moved


def _day_type(day: datetime) -> bool:
    """Working day or weekend: the day types load forecasts resample within (one
    weekday alone gives too few days to see the tails of a season's history)."""
    return day.weekday() < 5


def _slots(
    starts: Sequence[datetime], export: np.ndarray, shed: np.ndarray
) -> tuple[OfferSlot, ...]:
    return tuple(
        OfferSlot(t, round(float(e), 1), round(float(s), 1))
        for t, e, s in zip(starts, export, shed, strict=True)
    )
