"""Charging sessions drawn from the ElaadNL distributions the ev2gym wheel ships
(arrival time of day, connection time, energy), for backtests of the offers."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from v2g.forecast.offer import PastSession

DATA = Path(__file__).parents[1] / "data" / "ev2gym"


def _column(name: str, usage: str) -> np.ndarray:
    with (DATA / name).open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    k = rows[0].index(usage)
    return np.array([float(r[k]) for r in rows[1:]])


def sessions(
    first_day: datetime, days: int, cars: int, seed: int, usage: str = "private"
) -> list[PastSession]:
    """``cars`` cars, each plugging in on a day with probability 0.7 (home charging),
    60 % of them V2G-capable at 11 kW both ways."""
    rng = np.random.default_rng(seed)
    arrival = _column("distribution-of-arrival.csv", usage)
    arrival = arrival / arrival.sum()
    dwell_h = _column("distribution-of-connection-time.csv", usage)  # exceeded by x %
    energy_kwh = _column("distribution-of-energy-demand.csv", usage)
    made = []
    for day in range(days):
        for car in range(cars):
            if rng.random() > 0.7:
                continue
            quarter = int(rng.choice(len(arrival), p=arrival))
            at = first_day + timedelta(days=day, minutes=15 * quarter + float(rng.uniform(0, 15)))
            dwell = float(np.interp(rng.uniform(0, 100), np.arange(101), dwell_h))
            energy = float(np.interp(rng.uniform(0, 100), np.arange(101), energy_kwh))
            v2g = car < 0.6 * cars
            made.append(
                PastSession(
                    at, max(dwell, 0.25) * 3600, energy * 1000, 11_000.0, 11_000.0 if v2g else 0.0
                )
            )
    return made
