"""Vehicles foreseen from the site's history: the arrivals a session forecast expects
over the plan's horizon, as expected arrivals (decision 104).

Without them the plan knows only the cars plugged in and the booked ones, so it may
let a car plugged in at 09:00 wait for the cheap midday hours on a feeder whose room
the cars arriving at 11:00 will need; the car then charges into an evening DR event,
or leaves short. With them, tonight's plan keeps room (and a DR assessment keeps
energy) for the cars that usually come.

Arrivals are a Poisson process, so the cars still to come in an hour are its mean
times the part of the hour left, whoever came in it already. Whole cars are placed
where the running sum of those means crosses each half (0.5, 1.5, ...): over the
horizon as many cars as the forecast expects, in the hours it expects them. Each
takes the hour's typical dwell and energy, and a charger free from its arrival to its
departure (taken in turn, so the cars spread over the site's buses as real ones do).
They are re-placed at every plan: a car that came, or an hour that passed without
one, is accounted for by the next plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.fleet.corridor import expected_departure
from v2g.fleet.expected import ExpectedArrival
from v2g.fleet.fleet import Fleet, Site
from v2g.fleet.policy import Charger

HOURS_PER_WEEK = 7 * 24
_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ArrivalProfile:
    """Per hour of the week (168 entries; 0 = Monday 00:00..01:00 UTC): the mean number
    of sessions starting in it, and a typical such session's dwell (s) and energy (Wh).
    ``basis`` says what it was learned from."""

    mean_arrivals: tuple[float, ...]
    dwell_s: tuple[float, ...]
    energy_wh: tuple[float, ...]
    basis: str

    def __post_init__(self) -> None:
        for name in ("mean_arrivals", "dwell_s", "energy_wh"):
            values = getattr(self, name)
            if len(values) != HOURS_PER_WEEK:
                raise ValueError(f"{name}: {HOURS_PER_WEEK} hours needed, got {len(values)}")
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"{name}: every value must be finite and >= 0")


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00..01:00 (of ``moment``'s own zone; UTC throughout here)."""
    return moment.weekday() * 24 + moment.hour


def _hours(now: datetime, until: datetime) -> Iterator[tuple[datetime, float]]:
    """Each hour from the one under way to ``until``: its start, and the share of it
    still to come."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    while hour < until:
        left = (min(hour + _HOUR, until) - max(hour, now)) / _HOUR
        yield hour, left
        hour += _HOUR


def _busy(
    site: Site, fleet: Fleet, booked: Sequence[ExpectedArrival], now: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    """When each charger is taken already: by its car until it leaves, by a booking."""
    busy: dict[str, list[tuple[datetime, datetime]]] = {e: [] for e in site.chargers}
    for evse_id, member in fleet.members.items():
        if evse_id in busy:
            busy[evse_id].append((now, expected_departure(member, now)))
    for booking in booked:
        if booking.charger.evse_id in busy:
            busy[booking.charger.evse_id].append((booking.arrives_at, booking.departs_at))
    return busy


def foreseen_arrivals(
    profile: ArrivalProfile,
    site: Site,
    fleet: Fleet,
    booked: Sequence[ExpectedArrival],
    now: datetime,
    until: datetime,
) -> tuple[ExpectedArrival, ...]:
    """The cars ``profile`` expects from ``now`` to ``until``, each at a charger that is
    free from its arrival to its departure (none placed when every charger is taken)."""
    busy = _busy(site, fleet, booked, now)
    order = sorted(busy)
    turn, running = 0, 0.0
    placed: list[ExpectedArrival] = []
    for hour, left in _hours(now, until):
        how = hour_of_week(hour)
        running += profile.mean_arrivals[how] * left
        while running >= len(placed) + 0.5:
            arrives = max(hour, now)
            departs = arrives + timedelta(seconds=max(profile.dwell_s[how], 900.0))
            pick = _next_free(order, turn, busy, arrives, departs)
            if pick is None:
                return tuple(placed)
            turn, evse_id = pick + 1, order[pick]
            busy[evse_id].append((arrives, departs))
            placed.append(_foreseen(site.chargers[evse_id], arrives, departs, profile, how))
    return tuple(placed)


def _next_free(
    order: Sequence[str],
    turn: int,
    busy: dict[str, list[tuple[datetime, datetime]]],
    arrives: datetime,
    departs: datetime,
) -> int | None:
    """Where in ``order`` the first charger from ``turn`` on (in turn, wrapping) free
    from ``arrives`` to ``departs`` is; None when every one is taken then."""
    for step in range(len(order)):
        at = (turn + step) % len(order)
        if all(departs <= a or b <= arrives for a, b in busy[order[at]]):
            return at
    return None


def _foreseen(
    charger: Charger[int], arrives: datetime, departs: datetime, profile: ArrivalProfile, how: int
) -> ExpectedArrival:
    return ExpectedArrival(
        charger=charger,
        arrives_at=arrives,
        departs_at=departs,
        energy_wh=profile.energy_wh[how],
        source=f"forecast {arrives:%a %H:%M}",
        # A car plugged in at this charger from its arrival on is the one foreseen.
        arrived_since=arrives,
        gone_at=departs,
        firm=False,
    )
