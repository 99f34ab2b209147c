"""``GET /api/v1/flexibility?start=...&end=...&confidence=0.9``: what the fleet can
offer for a window (tomorrow evening, say), from the store's session history and
the vehicles plugged in now (v2g.forecast.offer).

``GET /api/v1/forecast/sessions?quantiles=0.1,0.5,0.9``: the site's arrivals, dwell
times and energy needs per hour of the week, as quantiles learned from the same
history (v2g.forecast.sessions)."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta

from aiohttp import web

from v2g.aggregator.offers import HISTORY, offer_from_history, session_history
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.api.usage import moment
from v2g.forecast.sessions import TooLittleHistory, learn

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
    offer = await offer_from_history(found.sessions, found.aggregator, start, end, confidence)
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
    history = await session_history(found.sessions, found.aggregator)
    days = HISTORY.days
    try:
        # A few dozen trees: off the event loop that answers the vehicles.
        forecast = await asyncio.to_thread(learn, history, now, quantiles, days)
    except TooLittleHistory as error:
        return document(
            {
                "quantiles": list(quantiles),
                "basis": str(error),
                "planner": found.arrivals.status,
                "hours": [],
            }
        )
    return document(
        {
            "quantiles": list(forecast.quantiles),
            "basis": forecast.basis,
            "planner": found.arrivals.status,
            "hours": [
                {
                    "hour_of_week": h.hour,
                    "arrivals": list(h.arrivals),
                    "arrivals_mean": h.arrivals_mean,
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
