"""Base-load forecasts on real data (the ev2gym wheel's residential profile, a year of
quarter hours), held out four weeks at a time, against the seasonal-naive forecast in
the same run (pinball loss per quantile). The table is printed for the closing note:
``pytest tests/forecast -s``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from v2g.forecast.baseload import BaseLoadForecaster, pinball_loss, seasonal_naive

DATA = Path(__file__).parents[1] / "data" / "ev2gym" / "residential_load_profile.csv"
#: Held-out windows every 90 days, whatever their season: not chosen for the result.
WINDOW_STARTS_DAYS = (60, 150, 240, 330)
WINDOW_DAYS = 28


def load() -> np.ndarray:
    with DATA.open(encoding="utf-8") as handle:
        return np.array([float(row[1]) for row in list(csv.reader(handle))[1:]])


def test_the_forecast_beats_seasonal_naive_at_every_quantile_on_held_out_weeks():
    series = load()
    totals: dict[tuple[float, str], float] = {}
    for start_day in WINDOW_STARTS_DAYS:
        end = start_day * 96
        held = np.arange(end, end + WINDOW_DAYS * 96)
        forecaster = BaseLoadForecaster().fit(series[:end])
        ours = forecaster.predict(series, held)
        naive = seasonal_naive(series, held, forecaster.quantiles)
        model = forecaster.model_only(series, held)
        for q in forecaster.quantiles:
            for name, predicted in (("ours", ours), ("naive", naive), ("model", model)):
                key = (q, name)
                totals[key] = totals.get(key, 0.0) + pinball_loss(series[held], predicted[q], q)
    print("\nquantile  ours   seasonal-naive  model alone  (mean pinball loss, kW)")
    for q in forecaster.quantiles:
        row = [totals[(q, n)] / len(WINDOW_STARTS_DAYS) for n in ("ours", "naive", "model")]
        print(f"  {q:.1f}   {row[0]:.4f}   {row[1]:.4f}        {row[2]:.4f}")
    for q in forecaster.quantiles:
        assert totals[(q, "ours")] < totals[(q, "naive")], q
