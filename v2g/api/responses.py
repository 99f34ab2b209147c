"""JSON answers: one encoder for every route (times as ISO 8601 with their zone)."""

from __future__ import annotations

import json
from datetime import datetime

from aiohttp import web


def document(data: object, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        body=json.dumps(data, default=_wire_value).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _wire_value(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
