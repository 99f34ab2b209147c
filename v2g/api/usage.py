"""``GET /api/v1/usage``: how the chargers were used, as JSON or CSV.

Query: ``from`` and ``to`` (ISO 8601 with a zone; default the 7 days up to now, at most
92 days), ``tz`` (an IANA zone for the hours of the week; default UTC) and, for CSV
(``Accept: text/csv``), ``by=evse`` (default) or ``by=hour``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.usage import UsageReport, usage_report

DEFAULT_WINDOW = timedelta(days=7)
#: Longer windows are asked in parts: the report is computed per request.
MAX_WINDOW = timedelta(days=92)


async def usage(request: web.Request) -> web.StreamResponse:
    found = services(request)
    now = found.aggregator.clock.now()
    end = moment(request, "to") or now
    start = moment(request, "from") or end - DEFAULT_WINDOW
    if not start < end:
        raise Problem(400, "Bad Request", "from: must be before to")
    if end - start > MAX_WINDOW:
        raise Problem(400, "Bad Request", f"from..to: at most {MAX_WINDOW.days} days")
    zone = _zone(request)
    by = request.query.get("by", "evse")
    if by not in ("evse", "hour"):
        raise Problem(400, "Bad Request", f"by: must be evse or hour, got {by[:40]!r}")
    spans, samples = await found.sessions.usage_records(start, end)
    evse_ids = found.aggregator.site.chargers.keys()
    report = usage_report(evse_ids, spans, samples, start, end, now, zone)
    if "text/csv" in request.headers.get("Accept", ""):
        return _csv(report, by)
    return document(_json(report))


def moment(request: web.Request, key: str) -> datetime | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Problem(400, "Bad Request", f"{key}: not an ISO 8601 time: {raw[:40]!r}") from None
    if moment.tzinfo is None:
        raise Problem(400, "Bad Request", f"{key}: naive time; give a zone (Z or +01:00)")
    return moment


def _zone(request: web.Request) -> ZoneInfo:
    name = request.query.get("tz", "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(400, "Bad Request", f"tz: unknown time zone {name[:40]!r}") from None


def _json(report: UsageReport) -> dict[str, Any]:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "tz": report.zone,
        "site": asdict(report.site),
        "evses": [asdict(e) for e in report.evses],
        "hours_of_week": [asdict(h) for h in report.hours],
    }


def _csv(report: UsageReport, by: str) -> web.Response:
    rows = [asdict(e) for e in report.evses] if by == "evse" else [asdict(h) for h in report.hours]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["evse_id"])
    writer.writeheader()
    writer.writerows(rows)
    return web.Response(
        text=text.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="usage-by-{by}.csv"'},
    )
