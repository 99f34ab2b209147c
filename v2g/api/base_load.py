"""The feeder's base load: readings in (``POST /api/v1/feeder/base-load``), the
forecast the service learned from them out (``GET /api/v1/forecast/base-load``)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from v2g.api import wire
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.forecast.baseload import PLAN_QUANTILE

#: The highest factor taken (ten times the network's own loads: a typo, not a feeder).
MAX_FACTOR = 10.0


async def post_readings(request: web.Request) -> web.Response:
    body = await wire.json_object(request)
    readings = _readings(body)
    found = services(request)
    await found.base_load_readings.add(readings)
    return document({"stored": len(readings)})


def _readings(body: dict[str, object]) -> list[tuple[datetime, float]]:
    """Every reading, or a 400 naming the first problems (nothing is stored)."""
    errors = wire.unknown_fields(body, {"readings"})
    items = body.get("readings")
    if not isinstance(items, list) or not items:
        raise Problem(400, "Bad Request", "readings: a non-empty list of {at, factor}")
    readings = []
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(f"readings[{k}]: must be an object {{at, factor}}")
            continue
        found: list[str] = wire.unknown_fields(item, {"at", "factor"})
        at = wire.time_field(item, "at", found)
        factor = wire.number_field(item.get("factor"), "factor", found)
        if factor is not None and not 0 <= factor <= MAX_FACTOR:
            found.append(f"factor: within 0..{MAX_FACTOR:g}, got {factor}")
        errors += [f"readings[{k}].{e}" for e in found]
        if at is not None and factor is not None and not found:
            readings.append((at, factor))
    if errors:
        raise Problem(400, "Bad Request", "; ".join(errors[:5]))
    return readings


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
