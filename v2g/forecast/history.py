"""The sessions a forecast learns from, as the store and the fleet know them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from v2g.fleet import Charger, Fleet
from v2g.fleet.corridor import corridor_of
from v2g.forecast.offer import PastSession
from v2g.usage import MeterSample, SessionSpan, power_steps


def past_sessions(
    spans: list[SessionSpan], samples: list[MeterSample], chargers: Mapping[str, Charger[int]]
) -> list[PastSession]:
    """The ended sessions at the site's chargers, with the energy their meters saw."""
    by_session: dict[str, list[MeterSample]] = {}
    for sample in samples:
        by_session.setdefault(sample.session_id, []).append(sample)
    past = []
    for span in spans:
        charger = chargers.get(span.evse_id)
        if span.ended_at is None or charger is None:
            continue
        steps = power_steps(
            span.started_at, by_session.get(span.session_id, []), span.started_at, span.ended_at
        )
        energy_wh = sum(max(p, 0.0) * (b - a).total_seconds() / 3600 for a, b, p in steps)
        past.append(
            PastSession(
                span.started_at,
                (span.ended_at - span.started_at).total_seconds(),
                energy_wh,
                charger.max_charge_power_w,
                charger.max_discharge_power_w,
            )
        )
    return past


def plugged_now(fleet: Fleet, now: datetime) -> list[PastSession]:
    """The vehicles plugged in now, as sessions that arrive now."""
    plugged = []
    for member in fleet:
        corridor = corridor_of(member, now)
        plugged.append(
            PastSession(
                now,
                max(0.0, (corridor.departure - now).total_seconds()),
                max(0.0, corridor.need_wh),
                member.charger.max_charge_power_w,
                member.charger.max_discharge_power_w if member.policy.v2g_allowed else 0.0,
            )
        )
    return plugged
