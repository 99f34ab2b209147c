"""The feeder's base load: readings in (``POST /api/v1/feeder/base-load``), the
forecast the service learned from them out (``GET /api/v1/forecast/base-load``)."""

from __future__ import annotations

from aiohttp import web

from v2g.api import schemas, wire
from v2g.api.responses import document
from v2g.api.services import services
from v2g.forecast.baseload import PLAN_QUANTILE


async def post_readings(request: web.Request) -> web.Response:
    given = await wire.body(request, schemas.BaseLoadReadings)
    readings = [(reading.at, reading.factor) for reading in given.readings]
    found = services(request)
    await found.base_load_readings.add(readings)
    return document({"stored": len(readings)})


async def forecast(request: web.Request) -> web.Response:
    learning = services(request).base_load
    latest = learning.latest
    return document(
        {
            "status": learning.status,
            "learned_at": None if learning.learned_at is None else learning.learned_at.isoformat(),
            "plan_quantile": PLAN_QUANTILE,
            "quantiles": [] if latest is None else list(latest.quantiles),
            "slots": []
            if latest is None
            else [
                {"start": start.isoformat(), "factors": list(row)}
                for start, row in zip(latest.starts(), latest.factors, strict=True)
            ],
        }
    )
