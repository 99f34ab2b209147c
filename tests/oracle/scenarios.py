"""Scenario dicts for ``v2g simulate`` (docs/scenario.md) generated from a seed
and real data (tests/data/ev2gym: ElaadNL arrival, connection-time and energy
distributions, Dutch day-ahead prices, a mean residential load profile).

Each network case is sized so that its limits bind: the fleet's charging power exceeds
the night-time headroom of the transformer or feeder it sits on (checked in the
benchmark's ``binds`` column, not assumed). Vehicles carry one key the loader ignores
today, ``accepts_shortfall`` (the owner's opt-in to leave below target); the oracle
reads it.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tests.oracle.networks import NetworkFiles

DATA = Path(__file__).resolve().parent.parent / "data" / "ev2gym"
STEP_S = 900
HORIZON_H = 24


@dataclass(frozen=True)
class Case:
    """One network shape and the fleet that stresses it.

    ``usage`` picks the ElaadNL column (private = home, public, workplace);
    ``bus_prefix`` restricts vehicles to buses whose name starts with it; ``charge_w``
    and ``capacity_wh`` are the choices per vehicle; ``energy_scale`` multiplies the
    ElaadNL session energy (for MV hubs); ``base_peak`` is the base-load factor at the
    day's profile peak; ``start_hour`` the horizon's start (UTC)."""

    name: str
    network: str
    usage: str
    vehicles: tuple[int, int]
    charge_w: tuple[float, ...]
    capacity_wh: tuple[float, ...]
    bus_prefix: str = ""
    energy_scale: float = 1.0
    base_peak: float = 1.0
    start_hour: int = 12


CASES: tuple[Case, ...] = (
    Case(
        "lv-residential",
        "cigre-lv",
        "private",
        (25, 50),
        (7400, 11000),
        (40e3, 60e3, 77e3),
        bus_prefix="Bus R",
    ),
    Case(
        "lv-commercial",
        "cigre-lv",
        "workplace",
        (15, 40),
        (11000, 22000),
        (50e3, 77e3),
        bus_prefix="Bus C",
        start_hour=0,
    ),
    Case("kerber-dorf", "kerber-dorf", "private", (25, 50), (7400, 11000), (40e3, 60e3, 77e3)),
    Case("simbench-lv", "simbench-lv-urban6", "private", (50, 60), (22000,), (50e3, 77e3)),
    Case("depot", "depot", "private", (35, 50), (22000,), (60e3, 77e3, 100e3)),
    Case("ieee-eu-lv", "ieee-eu-lv", "private", (40, 60), (22000,), (60e3, 77e3)),
    Case(
        "mv-meshed",
        "cigre-mv-meshed",
        "private",
        (30, 50),
        (350e3, 700e3),
        (600e3, 1000e3),
        energy_scale=12.0,
        base_peak=0.8,
    ),
)
CASE_BY_NAME = {c.name: c for c in CASES}


@functools.cache
def _table(name: str) -> tuple[list[str], np.ndarray]:
    with (DATA / name).open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    values = np.array([[float(x) if x else np.nan for x in r[1:]] for r in body])
    return header[1:], values


def _column(name: str, usage: str) -> np.ndarray:
    header, values = _table(name)
    return np.nan_to_num(values[:, header.index(usage)])


@functools.cache
def _prices() -> dict[datetime, float]:
    """Dutch day-ahead prices, EUR/kWh per UTC hour (quarter-hours averaged)."""
    sums: dict[datetime, list[float]] = {}
    with (DATA / "nl_day_ahead_2023_2024.csv").open(encoding="utf-8") as handle:
        for row in list(csv.reader(handle))[1:]:
            moment = datetime.fromisoformat(row[0]).replace(minute=0, second=0)
            sums.setdefault(moment, []).append(float(row[1]) / 1000)
    return {t: sum(v) / len(v) for t, v in sums.items()}


@functools.cache
def _load_profile() -> np.ndarray:
    """Mean residential load per quarter-hour of a year, as a fraction of its peak."""
    with (DATA / "residential_load_profile.csv").open(encoding="utf-8") as handle:
        return np.array([float(r[2]) for r in list(csv.reader(handle))[1:]])


def _quantile(name: str, usage: str, rng: np.random.Generator) -> float:
    """A draw from an ElaadNL "percentage of events above x" table (value falls as the
    percentage rises), by inverse transform."""
    values = _column(name, usage)
    percent = np.arange(len(values), dtype=float)
    return float(np.interp(rng.uniform(0, percent[-1]), percent, values))


def _arrival_of_day_s(usage: str, rng: np.random.Generator) -> float:
    weights = _column("distribution-of-arrival.csv", usage)
    quarter = rng.choice(len(weights), p=weights / weights.sum())
    return float(quarter * 900)


@dataclass(frozen=True)
class GeneratedScenario:
    """A scenario dict with the case it came from and its seed."""

    name: str
    case: Case
    seed: int
    data: dict[str, Any]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _buses(spec: str, prefix: str) -> tuple[int, ...]:
    from gridmodel import load_network

    network = load_network(spec)
    buses = network.connection_buses()
    if prefix:
        buses = [b for b in buses if network.bus_name(b).startswith(prefix)]
    return tuple(buses)


def _vehicle(
    index: int,
    case: Case,
    start: datetime,
    hours: int,
    buses: list[int],
    v2g_share: float,
    shortfall_share: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    for _ in range(100):
        of_day = _arrival_of_day_s(case.usage, rng)
        offset = (of_day - case.start_hour * 3600) % 86400
        if offset <= (hours - 2) * 3600:
            break
    else:
        offset = 0.0
    arrival = start + timedelta(seconds=offset)
    dwell_h = _quantile("distribution-of-connection-time.csv", case.usage, rng)
    dwell_s = round(max(1.0, dwell_h) * 4) * 900
    departure = min(arrival + timedelta(seconds=dwell_s), end - timedelta(seconds=STEP_S))
    capacity = float(rng.choice(case.capacity_wh))
    target = float(rng.choice([80.0, 90.0, 100.0]))
    energy_wh = (
        1000 * case.energy_scale * _quantile("distribution-of-energy-demand.csv", case.usage, rng)
    )
    arrival_soc = max(5.0, target - 100 * energy_wh / capacity)
    charge_w = float(rng.choice(case.charge_w))
    v2g = bool(rng.random() < v2g_share)
    return {
        "id": f"ev-{index:03d}",
        "bus": int(rng.choice(buses)),
        "arrival": _iso(arrival),
        "departure": _iso(departure),
        "capacity_wh": capacity,
        "soc_arrival_percent": round(arrival_soc, 2),
        "soc_target_percent": target,
        "soc_reserve_percent": float(rng.choice([20.0, 30.0, 40.0])),
        "max_charge_w": charge_w,
        "max_discharge_w": charge_w if v2g else 0.0,
        "v2g": v2g,
        "accepts_shortfall": bool(rng.random() < shortfall_share),
    }


def _dr_events(
    start: datetime, vehicles: list[dict[str, Any]], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Evening export events sized against the V2G fleet: some over-asked (more than
    the whole V2G fleet can discharge), some overlapping, some in the morning when
    vehicles need their energy to leave."""
    v2g_w = sum(v["max_discharge_w"] for v in vehicles)
    events: list[dict[str, Any]] = []
    day = start.replace(hour=0) + (timedelta(days=1) if start.hour >= 17 else timedelta())
    if v2g_w <= 0 or rng.random() < 0.15:
        return events
    kinds = ["evening"] + (["overlap"] if rng.random() < 0.3 else [])
    kinds += ["morning"] if rng.random() < 0.3 else []
    for n, kind in enumerate(kinds):
        share = float(rng.choice([0.15, 0.3, 0.5, 0.8, 1.5]))
        if kind == "morning":
            first = (day + timedelta(days=1 if start.hour >= 12 else 0)).replace(hour=6)
        else:
            first = day.replace(hour=int(rng.integers(16, 19)))
        length = timedelta(minutes=int(rng.choice([60, 120, 180])))
        events.append(
            {
                "id": f"dr-{n + 1}-{kind}",
                "start": _iso(first),
                "end": _iso(first + length),
                "kind": "export_w",
                "value": round(share * v2g_w, -2),
            }
        )
    return events


def generate(
    seed: int,
    case: Case | None = None,
    files: NetworkFiles | None = None,
    vehicles: int | None = None,
    hours: int = HORIZON_H,
) -> GeneratedScenario:
    """The scenario of ``seed`` (a case picked by the seed unless given): ``hours``
    long at 15-minute steps, ``vehicles`` many (drawn from the case's range unless
    given)."""
    rng = np.random.default_rng(seed)
    case = case or CASES[seed % len(CASES)]
    spec = (files or NetworkFiles.default()).spec(case.network)
    first_day = date(2023, 1, 2)
    day = first_day + timedelta(days=int(rng.integers(0, 725)))
    start = datetime(day.year, day.month, day.day, case.start_hour, tzinfo=UTC)
    buses = list(_buses(spec, case.bus_prefix))
    # Cluster the fleet on a few buses so feeders (not only the transformer) bind.
    size = min(len(buses), max(2, len(buses) // 2))
    chosen = [int(b) for b in rng.choice(buses, size=size, replace=False)]
    count = vehicles or int(rng.integers(case.vehicles[0], case.vehicles[1] + 1))
    v2g_share = float(rng.uniform(0.3, 0.9))
    shortfall_share = float(rng.choice([0.0, 0.1, 0.2]))
    fleet = [
        _vehicle(i + 1, case, start, hours, chosen, v2g_share, shortfall_share, rng)
        for i in range(count)
    ]
    return GeneratedScenario(
        f"{case.name}-{seed}",
        case,
        seed,
        {
            "start": _iso(start),
            "end": _iso(start + timedelta(hours=hours)),
            "step_s": STEP_S,
            "feeder": {
                "network": spec,
                "base_load_profile": _base_load(start, hours, case.base_peak),
            },
            "vehicles": fleet,
            "dr_events": _dr_events(start, fleet, rng),
            "prices": _price_curve(start, hours),
        },
    )


def with_history(generated: GeneratedScenario, days: int) -> GeneratedScenario:
    """``generated`` with ``days`` days of past sessions before its start (``history``),
    drawn as its own vehicles were (the case's arrival, dwell and energy data and fleet
    size range) but from a seed of their own: what the site saw before."""
    if days <= 0:
        return generated
    rng = np.random.default_rng(generated.seed + 2_000_003)
    case, data = generated.case, generated.data
    start = datetime.fromisoformat(data["start"])
    hours = int((datetime.fromisoformat(data["end"]) - start).total_seconds() // 3600)
    past = []
    for day in range(days, 0, -1):
        count = int(rng.integers(case.vehicles[0], case.vehicles[1] + 1))
        for i in range(count):
            v = _vehicle(i, case, start - timedelta(days=day), hours, [0], 0.5, 0.0, rng)
            need = v["capacity_wh"] * (v["soc_target_percent"] - v["soc_arrival_percent"]) / 100
            past.append(
                {"arrival": v["arrival"], "departure": v["departure"], "energy_wh": round(need, 1)}
            )
    data["history"] = past
    return generated


def _quarters(start: datetime, hours: int) -> list[datetime]:
    return [start + timedelta(seconds=STEP_S * k) for k in range(hours * 3600 // STEP_S)]


def _base_load(start: datetime, hours: int, peak: float) -> list[list[Any]]:
    """The network's own loads times the residential profile of these quarter-hours,
    scaled so the day's highest quarter is ``peak``."""
    profile = _load_profile()
    quarters = _quarters(start, hours)
    first = start.replace(month=1, day=1, hour=0, tzinfo=UTC)
    index = [int((q - first).total_seconds() // 900) % len(profile) for q in quarters]
    values = profile[index] / profile[index].max() * peak
    return [[_iso(q), round(float(v), 4)] for q, v in zip(quarters, values, strict=True)]


def _price_curve(start: datetime, hours: int) -> list[list[Any]]:
    prices = _prices()
    points = []
    for hour in range(hours):
        moment = start + timedelta(hours=hour)
        price = prices.get(moment)
        if price is not None:
            points.append([_iso(moment), round(price, 5)])
    return points


def generate_many(
    count: int, seed: int = 0, files: NetworkFiles | None = None
) -> list[GeneratedScenario]:
    """``count`` scenarios, cycling through every case."""
    return [generate(seed + k, CASES[k % len(CASES)], files) for k in range(count)]
