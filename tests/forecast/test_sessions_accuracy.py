"""Arrival, dwell and energy forecasts on sessions drawn from the ElaadNL
distributions (tests/forecast/sessions_data.py), learned from 90 days and scored on
the four held-out weeks after them, against the seasonal-naive forecast in the same
run (mean pinball loss per quantile). The table goes in the closing note:
``pytest tests/forecast/test_sessions_accuracy.py -s``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.forecast.sessions_data import sessions
from v2g.forecast.baseload import pinball_loss
from v2g.forecast.offer import PastSession
from v2g.forecast.sessions import (
    SessionForecast,
    TooLittleHistory,
    hour_of_week,
    hourly_arrivals,
    learn,
    seasonal_naive,
)

FIRST = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
HISTORY_DAYS, HELD_DAYS = 90, 28
QUANTILES = (0.1, 0.5, 0.9)


def losses(forecast: SessionForecast, held: list[PastSession], start: datetime) -> dict:
    """Mean pinball loss per (target, quantile) on the held-out sessions."""
    how, counts = hourly_arrivals(held, start, HELD_DAYS * 24)
    at = [hour_of_week(s.arrival) for s in held]
    actual = {
        "arrivals": (counts, how.tolist()),
        "dwell_s": (np.array([s.dwell_s for s in held]), at),
        "energy_wh": (np.array([s.energy_wh for s in held]), at),
    }
    result = {}
    for target, (values, hours) in actual.items():
        for k, q in enumerate(forecast.quantiles):
            predicted = np.array([getattr(forecast.hours[h], target)[k] for h in hours])
            result[(target, q)] = pinball_loss(values, predicted, q)
    return result


def test_the_forecast_beats_seasonal_naive_for_every_target_and_quantile():
    every = sessions(FIRST, HISTORY_DAYS + HELD_DAYS, cars=40, seed=3)
    until = FIRST + timedelta(days=HISTORY_DAYS)
    history = [s for s in every if s.arrival < until]
    held = [s for s in every if s.arrival >= until]
    ours = losses(learn(history, until, QUANTILES), held, until)
    naive = losses(seasonal_naive(history, until, QUANTILES), held, until)
    print("\ntarget      quantile  ours        seasonal-naive  (mean pinball loss)")
    for key in ours:
        print(f"{key[0]:<11} {key[1]:.1f}       {ours[key]:<11.3f} {naive[key]:.3f}")
    for key in ours:
        assert ours[key] < naive[key], key


def test_too_little_history_is_refused_with_the_reason():
    few = sessions(FIRST, 5, cars=10, seed=1)
    with pytest.raises(TooLittleHistory, match=r"5 days with sessions .* 14 needed"):
        learn(few, FIRST + timedelta(days=5))


def test_quantiles_outside_zero_and_one_are_refused():
    history = sessions(FIRST, 20, cars=10, seed=1)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        learn(history, FIRST + timedelta(days=20), (0.5, 1.0))


def test_the_quantiles_are_ordered_and_follow_the_evening_peak():
    history = sessions(FIRST, 60, cars=40, seed=4)
    forecast = learn(history, FIRST + timedelta(days=60))
    for hour in forecast.hours:
        for target in ("arrivals", "dwell_s", "energy_wh"):
            values = getattr(hour, target)
            assert list(values) == sorted(values) and values[0] >= 0
    # Home charging: more arrive at 18:00 on a Tuesday than at 04:00.
    assert forecast.hours[24 + 18].arrivals[1] > forecast.hours[24 + 4].arrivals[1]
