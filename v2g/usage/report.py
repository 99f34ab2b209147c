"""Usage per EVSE and per hour of the week over a window.

Power between two meter values is the earlier value (meters report on change or on a
period; the value holds until the next one). Before a session's first meter value the
power is unknown and counts as idle, never as energy. A session still open counts up
to ``now``. Energy is split by sign: + charged, - discharged (V2G), both reported as
positive watt-hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from itertools import groupby

HOURS_PER_WEEK = 7 * 24
#: Below this magnitude a plugged-in vehicle counts as idle (standby draw, rounding).
IDLE_BELOW_W = 100.0


@dataclass(frozen=True, slots=True)
class SessionSpan:
    session_id: str
    evse_id: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class MeterSample:
    session_id: str
    at: datetime
    power_w: float


@dataclass(frozen=True, slots=True)
class EvseUsage:
    """One EVSE (or, with ``evse_id`` "site", all of them) over the window."""

    evse_id: str
    sessions: int = 0
    plugged_s: float = 0.0
    idle_s: float = 0.0
    charged_wh: float = 0.0
    discharged_wh: float = 0.0
    #: Plugged-in time over the window's time (per EVSE; the site's is over all EVSEs').
    utilization: float = 0.0


@dataclass(frozen=True, slots=True)
class HourOfWeekUsage:
    """One hour of the week, summed over the window's weeks (weekday 0 is Monday)."""

    weekday: int
    hour: int
    sessions_started: int = 0
    plugged_s: float = 0.0
    charged_wh: float = 0.0
    discharged_wh: float = 0.0


@dataclass(frozen=True, slots=True)
class UsageReport:
    start: datetime
    end: datetime
    zone: str
    site: EvseUsage
    evses: tuple[EvseUsage, ...]
    hours: tuple[HourOfWeekUsage, ...] = field(repr=False)


@dataclass(slots=True)
class _Totals:
    sessions: int = 0
    plugged_s: float = 0.0
    idle_s: float = 0.0
    charged_wh: float = 0.0
    discharged_wh: float = 0.0

    def add(self, duration_s: float, power_w: float) -> None:
        self.plugged_s += duration_s
        if abs(power_w) < IDLE_BELOW_W:
            self.idle_s += duration_s
        energy_wh = power_w * duration_s / 3600.0
        if energy_wh > 0:
            self.charged_wh += energy_wh
        else:
            self.discharged_wh -= energy_wh

    def usage(self, evse_id: str, available_s: float) -> EvseUsage:
        share = min(1.0, self.plugged_s / available_s) if available_s > 0 else 0.0
        return EvseUsage(
            evse_id,
            self.sessions,
            round(self.plugged_s, 3),
            round(self.idle_s, 3),
            round(self.charged_wh, 3),
            round(self.discharged_wh, 3),
            round(share, 6),
        )


def usage_report(
    evse_ids: Iterable[str],
    sessions: Sequence[SessionSpan],
    samples: Sequence[MeterSample],
    start: datetime,
    end: datetime,
    now: datetime,
    zone: tzinfo,
) -> UsageReport:
    """Usage of ``evse_ids`` (every configured EVSE, so idle ones show as zeros; an
    EVSE seen only in ``sessions`` is added) between ``start`` and ``end``."""
    if not start < end:
        raise ValueError(f"start {start.isoformat()} must be before end {end.isoformat()}")
    per_evse = {evse_id: _Totals() for evse_id in evse_ids}
    hours = [_Totals() for _ in range(HOURS_PER_WEEK)]
    by_session = {
        key: list(group)
        for key, group in groupby(
            sorted(samples, key=lambda s: (s.session_id, s.at)), key=lambda s: s.session_id
        )
    }
    for span in sessions:
        totals = per_evse.setdefault(span.evse_id, _Totals())
        if _count_session(
            span, by_session.get(span.session_id, []), start, end, now, totals, hours, zone
        ):
            totals.sessions += 1
    window_s = (end - start).total_seconds()
    site = _Totals()
    for totals in per_evse.values():
        site.sessions += totals.sessions
        site.plugged_s += totals.plugged_s
        site.idle_s += totals.idle_s
        site.charged_wh += totals.charged_wh
        site.discharged_wh += totals.discharged_wh
    return UsageReport(
        start,
        end,
        str(zone),
        site.usage("site", window_s * max(1, len(per_evse))),
        tuple(per_evse[e].usage(e, window_s) for e in sorted(per_evse)),
        tuple(_hour(index, totals) for index, totals in enumerate(hours)),
    )


def _count_session(
    span: SessionSpan,
    samples: list[MeterSample],
    start: datetime,
    end: datetime,
    now: datetime,
    totals: _Totals,
    hours: list[_Totals],
    zone: tzinfo,
) -> bool:
    """Adds one session's time and energy inside the window; False if it lies outside."""
    first = max(span.started_at, start)
    last = min(span.ended_at or now, end)
    if not first < last:
        return False
    if start <= span.started_at < end:
        hours[_hour_index(span.started_at, zone)].sessions += 1
    for a, b, power_w in power_steps(span.started_at, samples, first, last):
        totals.add((b - a).total_seconds(), power_w)
        for piece_start, piece_end in _hour_pieces(a, b, zone):
            index = _hour_index(piece_start, zone)
            hours[index].add((piece_end - piece_start).total_seconds(), power_w)
    return True


def power_steps(
    started_at: datetime, samples: Sequence[MeterSample], first: datetime, last: datetime
) -> Iterable[tuple[datetime, datetime, float]]:
    """A session's held power as (from, to, W) steps, clipped to ``first``..``last``
    (``samples`` sorted by time; 0 W before the first)."""
    times = [started_at] + [s.at for s in samples] + [last]
    powers = [0.0] + [s.power_w for s in samples]
    for index, power_w in enumerate(powers):
        a = max(times[index], first)
        b = min(times[index + 1], last)
        if a < b:
            yield a, b, power_w


def _hour_pieces(a: datetime, b: datetime, zone: tzinfo) -> Iterable[tuple[datetime, datetime]]:
    """``a``..``b`` cut at the zone's hour boundaries."""
    while a < b:
        local = a.astimezone(zone)
        into_hour = timedelta(
            minutes=local.minute, seconds=local.second, microseconds=local.microsecond
        )
        boundary = a - into_hour + timedelta(hours=1)
        yield a, min(b, boundary)
        a = boundary


def _hour_index(moment: datetime, zone: tzinfo) -> int:
    local = moment.astimezone(zone)
    return local.weekday() * 24 + local.hour


def _hour(index: int, totals: _Totals) -> HourOfWeekUsage:
    return HourOfWeekUsage(
        index // 24,
        index % 24,
        totals.sessions,
        round(totals.plugged_s, 3),
        round(totals.charged_wh, 3),
        round(totals.discharged_wh, 3),
    )
