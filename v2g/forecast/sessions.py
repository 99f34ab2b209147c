"""Arrivals, dwell times and energy needs per hour of the week, as quantiles, learned
from a site's own session history (decision 85).

scikit-learn's ``HistGradientBoostingRegressor`` on the hour of day, the day of the
week and the working-day flag:

- arrivals: the mean number of sessions starting in each hour (hours without any
  count as 0), learned with the Poisson loss; the quantiles are the Poisson
  distribution's around that mean. (The quantile loss on counts that are mostly 0
  stuck at 0 for the median of every hour, even the evening peak's.)
- dwell (s) and energy (Wh): one row per past session, at its arrival hour, with the
  quantile (pinball) loss, one model per quantile.

The trees pool what one hour of one weekday sees too seldom (a site with 40 cars has
a handful of 19:00 Monday arrivals in three months) with the neighbouring hours and
days, and learn the weekday x hour interactions a flat profile misses. The baseline
the tests hold it against on held-out weeks is the seasonal-naive forecast
(``seasonal_naive``): what the same hour of the last week saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from scipy.stats import poisson
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from v2g.fleet.foreseen import HOURS_PER_WEEK, ArrivalProfile, hour_of_week
from v2g.forecast.offer import PastSession

MIN_HISTORY_DAYS = 14
#: What each hour of the week is forecast for.
TARGETS = ("arrivals", "dwell_s", "energy_wh")
Floats = npt.NDArray[np.float64]


class TooLittleHistory(ValueError):
    """The history is too short (or too empty) to learn from; the message says why."""


@dataclass(frozen=True, slots=True)
class HourOfWeek:
    """Forecast quantiles for sessions arriving in one hour of the week (0 = Monday
    00:00..01:00 UTC): per target, the value at each quantile."""

    hour: int
    arrivals: tuple[float, ...]
    dwell_s: tuple[float, ...]
    energy_wh: tuple[float, ...]
    #: The expected number of arrivals (the quantiles are of whole cars).
    arrivals_mean: float


@dataclass(frozen=True, slots=True)
class SessionForecast:
    quantiles: tuple[float, ...]
    hours: tuple[HourOfWeek, ...]
    basis: str

    def profile(self) -> ArrivalProfile:
        """What the planner foresees from it (v2g.fleet.foreseen): each hour's mean
        arrivals, and its sessions' dwell and energy at the quantile nearest the median."""
        typical = min(range(len(self.quantiles)), key=lambda i: abs(self.quantiles[i] - 0.5))
        return ArrivalProfile(
            tuple(h.arrivals_mean for h in self.hours),
            tuple(h.dwell_s[typical] for h in self.hours),
            tuple(h.energy_wh[typical] for h in self.hours),
            self.basis,
        )


def hour_features(hour_of_week: npt.NDArray[np.int64]) -> Floats:
    hour = hour_of_week % 24
    weekday = hour_of_week // 24
    return np.column_stack([hour, weekday, weekday < 5]).astype(float)


def hourly_arrivals(
    sessions: Sequence[PastSession], start: datetime, hours: int
) -> tuple[npt.NDArray[np.int64], Floats]:
    """(hour of the week, sessions arriving) for each of ``hours`` hours from ``start``
    (on the hour)."""
    counts = np.zeros(hours)
    for s in sessions:
        k = int((s.arrival - start).total_seconds() // 3600)
        if 0 <= k < hours:
            counts[k] += 1
    first = hour_of_week(start)
    return (first + np.arange(hours)) % HOURS_PER_WEEK, counts


def _checked(quantiles: Sequence[float]) -> tuple[float, ...]:
    if not quantiles or any(not 0 < q < 1 for q in quantiles):
        raise ValueError(f"quantiles must lie strictly between 0 and 1, got {list(quantiles)}")
    return tuple(sorted(set(quantiles)))


def _fit_predict(
    x: Floats, y: Floats, quantiles: tuple[float, ...], at: npt.NDArray[np.int64]
) -> Floats:
    """Quantiles (columns, ordered) at the hours of the week ``at``."""
    columns = []
    # One thread: the planner shares these cores (see v2g.forecast.baseload).
    with threadpool_limits(1):
        for q in quantiles:
            model = HistGradientBoostingRegressor(
                loss="quantile", quantile=q, max_iter=60, random_state=0
            )
            columns.append(model.fit(x, y).predict(hour_features(at)))
    return np.sort(np.maximum(np.column_stack(columns), 0.0), axis=1)


def _arrival_quantiles(
    x: Floats, counts: Floats, quantiles: tuple[float, ...], at: npt.NDArray[np.int64]
) -> tuple[Floats, Floats]:
    """The mean arrivals at the hours ``at``, and their quantiles (columns)."""
    with threadpool_limits(1):
        model = HistGradientBoostingRegressor(loss="poisson", max_iter=60, random_state=0)
        mean = np.maximum(model.fit(x, counts).predict(hour_features(at)), 1e-9)
    return mean, np.column_stack([poisson.ppf(q, mean) for q in quantiles])


def learn(
    history: Sequence[PastSession],
    until: datetime,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    days: int = 90,
) -> SessionForecast:
    """The forecast for every hour of the week from the sessions that arrived in the
    ``days`` before ``until`` (at least ``MIN_HISTORY_DAYS`` of them with sessions)."""
    levels = _checked(quantiles)
    end = until.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    used = [s for s in history if start <= s.arrival < end]
    seen_days = {s.arrival.date() for s in used}
    if len(seen_days) < MIN_HISTORY_DAYS:
        raise TooLittleHistory(
            f"{len(seen_days)} days with sessions in the {days} days before "
            f"{end.isoformat()}: {MIN_HISTORY_DAYS} needed to forecast arrivals"
        )
    first_day = min(seen_days)
    learn_from = max(start, end - timedelta(days=(end.date() - first_day).days))
    hours = int((end - learn_from).total_seconds() // 3600)
    how, counts = hourly_arrivals(used, learn_from, hours)
    every = np.arange(HOURS_PER_WEEK)
    mean, arrivals = _arrival_quantiles(hour_features(how), counts, levels, every)
    at = np.array([hour_of_week(s.arrival) for s in used])
    x = hour_features(at)
    dwell = _fit_predict(x, np.array([s.dwell_s for s in used]), levels, every)
    energy = _fit_predict(x, np.array([s.energy_wh for s in used]), levels, every)
    table = tuple(
        HourOfWeek(
            int(h),
            tuple(round(float(v), 3) for v in arrivals[h]),
            tuple(round(float(v), 1) for v in dwell[h]),
            tuple(round(float(v), 1) for v in energy[h]),
            round(float(mean[h]), 4),
        )
        for h in every
    )
    basis = f"{len(used)} sessions on {len(seen_days)} days before {end.isoformat()}"
    return SessionForecast(levels, table, basis)


def seasonal_naive(
    history: Sequence[PastSession], until: datetime, quantiles: Sequence[float], days: int = 90
) -> SessionForecast:
    """The baseline: each hour of the week as the same hour of the last week saw it:
    its count plus the quantiles of the week-on-week change over the ``days`` before
    (as ``v2g.forecast.baseload.seasonal_naive``); the quantiles of its sessions'
    dwell and energy, or of the whole week's when that hour had none."""
    levels = _checked(quantiles)
    end = until.replace(minute=0, second=0, microsecond=0)
    hours = days * 24
    how, counts = hourly_arrivals(history, end - timedelta(hours=hours), hours)
    change = counts[HOURS_PER_WEEK:] - counts[:-HOURS_PER_WEEK]
    shift = np.quantile(change, levels)
    last = dict(
        zip(how[-HOURS_PER_WEEK:].tolist(), counts[-HOURS_PER_WEEK:].tolist(), strict=True)
    )
    week = [s for s in history if end - timedelta(days=7) <= s.arrival < end]
    table = []
    for h in range(HOURS_PER_WEEK):
        those = [s for s in week if hour_of_week(s.arrival) == h] or week
        dwell = [s.dwell_s for s in those] or [0.0]
        energy = [s.energy_wh for s in those] or [0.0]
        table.append(
            HourOfWeek(
                h,
                tuple(max(0.0, last[h] + float(c)) for c in shift),
                tuple(float(v) for v in np.quantile(dwell, levels)),
                tuple(float(v) for v in np.quantile(energy, levels)),
                max(0.0, last[h] + float(np.median(change))),
            )
        )
    return SessionForecast(levels, tuple(table), f"the week before {end.isoformat()}")
