"""``GET /api/v1/flexibility?start=...&end=...&confidence=0.9``: what the fleet can
offer for a window (tomorrow evening, say), from the store's session history and
the vehicles plugged in now (v2g.forecast.offer).

``GET /api/v1/forecast/sessions?quantiles=0.1,0.5,0.9``: the site's arrivals, dwell
times and energy needs per hour of the week, as quantiles learned from the same
history (v2g.forecast.sessions)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from aiohttp import web

from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.api.usage import moment
from v2g.fleet import Charger, Fleet
from v2g.fleet.corridor import corridor_of
from v2g.forecast.offer import PastSession, day_ahead_offer
from v2g.forecast.sessions import TooLittleHistory, learn
from v2g.usage import MeterSample, SessionSpan, power_steps

HISTORY = timedelta(days=90)
MAX_WINDOW = timedelta(hours=24)
MAX_AHEAD = timedelta(days=2)


async def flexibility(request: web.Request) -> web.Response:
    found = services(request)
    now = found.aggregator.clock.now()
    start, end = moment(request, "start"), moment(request, "end")
    if start is None or end is None:
        raise Problem(400, "Bad Request", "start and end: both needed (ISO 8601 with a zone)")
    confidence = _confidence(request)
    if not now <= start < end or end - start > MAX_WINDOW or start - now > MAX_AHEAD:
        raise Problem(
            400,
            "Bad Request",
            "start..end: from now on, start before end, at most 24 h long, starting within 2 days",
        )
    spans, samples = await found.sessions.usage_records(now - HISTORY, now)
    history = _history(spans, samples, found.aggregator.site.chargers)
    plugged = _plugged(found.aggregator.state.fleet, now)
    # Hundreds of resampled days: off the event loop that answers the vehicles.
    offer = await asyncio.to_thread(day_ahead_offer, history, plugged, start, end, confidence, now)
    return document(
        {
            "start": offer.start.isoformat(),
            "end": offer.end.isoformat(),
            "confidence": offer.confidence,
            "basis": offer.basis,
            "slots": [
                {"start": s.start.isoformat(), "export_w": s.export_w, "shed_w": s.shed_w}
                for s in offer.slots
            ],
        }
    )


async def session_forecast(request: web.Request) -> web.Response:
    found = services(request)
    now = found.aggregator.clock.now()
    quantiles = _quantiles(request)
    spans, samples = await found.sessions.usage_records(now - HISTORY, now)
    history = _history(spans, samples, found.aggregator.site.chargers)
    days = HISTORY.days
    try:
        # A few dozen trees: off the event loop that answers the vehicles.
        forecast = await asyncio.to_thread(learn, history, now, quantiles, days)
    except TooLittleHistory as error:
        return document({"quantiles": list(quantiles), "basis": str(error), "hours": []})
    return document(
        {
            "quantiles": list(forecast.quantiles),
            "basis": forecast.basis,
            "hours": [
                {
                    "hour_of_week": h.hour,
                    "arrivals": list(h.arrivals),
                    "dwell_s": list(h.dwell_s),
                    "energy_wh": list(h.energy_wh),
                }
                for h in forecast.hours
            ],
        }
    )


def _quantiles(request: web.Request) -> tuple[float, ...]:
    raw = request.query.get("quantiles", "0.1,0.5,0.9")
    try:
        values = tuple(sorted({float(part) for part in raw.split(",")}))
    except ValueError:
        values = ()
    if not 0 < len(values) <= 9 or not all(0 < v < 1 for v in values):
        raise Problem(
            400,
            "Bad Request",
            f"quantiles: 1 to 9 comma-separated numbers strictly between 0 and 1, "
            f"got {raw[:40]!r}",
        )
    return values


def _confidence(request: web.Request) -> float:
    raw = request.query.get("confidence", "0.9")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.5 <= value < 1:
        raise Problem(
            400, "Bad Request", f"confidence: within 0.5..1 (exclusive), got {raw[:20]!r}"
        )
    return value


def _history(
    spans: list[SessionSpan], samples: list[MeterSample], chargers: Mapping[str, Charger[int]]
) -> list[PastSession]:
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


def _plugged(fleet: Fleet, now: datetime) -> list[PastSession]:
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
