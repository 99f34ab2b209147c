"""Read resources: the last published snapshot, DR events and stored sessions.

Reads never touch the live cycle: fleet, plan, envelope and grid come from the
snapshot feed, rendered once per snapshot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from v2g.api.billing import bill_view
from v2g.api.documents import event_document
from v2g.api.feed import View
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.demand_response import EventBook
from v2g.store import SqlSessionStore
from v2g.store.times import aware

#: A stored session's bill (``v2g.api.billing.bill_view``).
BillView = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _json(body: bytes, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/json")


def _view(request: web.Request) -> View:
    view = services(request).feed.view
    if view is None:
        raise Problem(503, "Service Unavailable", "no plan yet: the first cycle has not run")
    return view


async def health(request: web.Request) -> web.Response:
    """Liveness, the last cycle, the DR store and the DR channels: "degraded" while
    the store's last write failed (DR events are refused then: nothing is accepted
    that is not stored) or a channel reports trouble (a VTN unreachable or refusing)."""
    found = services(request)
    latest = found.aggregator.latest()
    store = found.intake.store_health
    channels = found.intake.channel_notes()
    return document(
        {
            "status": "degraded" if store.failing or channels else "ok",
            "cycle": None if latest is None else latest.cycle,
            "at": None if latest is None else latest.at.isoformat(),
            "notes": ([] if latest is None else list(latest.health)) + store.notes() + channels,
            "store": {
                "failing": store.failing,
                "failures": store.failures,
                "last_failure_at": (
                    None if store.last_failure_at is None else store.last_failure_at.isoformat()
                ),
                "last_error": store.last_error,
            },
            "channels": found.intake.channel_status(),
        }
    )


async def fleet(request: web.Request) -> web.Response:
    return _json(_view(request).fleet)


async def fleet_member(request: web.Request) -> web.Response:
    evse_id = request.match_info["evse_id"]
    row = _view(request).fleet_rows.get(evse_id)
    if row is None:
        raise Problem(404, "Not Found", f"no vehicle connected at EVSE {evse_id}")
    return _json(row)


async def envelope(request: web.Request) -> web.Response:
    view = _view(request)
    if view.envelope == b"null":
        raise Problem(503, "Service Unavailable", "no plan yet: no envelope")
    return _json(view.envelope)


async def plan(request: web.Request) -> web.Response:
    view = _view(request)
    if view.plan == b"null":
        raise Problem(503, "Service Unavailable", "no plan yet")
    return _json(view.plan)


async def grid(request: web.Request) -> web.Response:
    return _json(_view(request).grid)


def _book(request: web.Request) -> tuple[EventBook, datetime]:
    aggregator = services(request).aggregator
    return aggregator.state.events, aggregator.clock.now()


async def dr_events(request: web.Request) -> web.Response:
    book, now = _book(request)
    rows = [
        event_document(e, e.status_at(now), services(request).measurements.get)
        for e in sorted(book.events.values(), key=lambda e: (e.start, e.id))
    ]
    cancelled = sorted(book.cancelled)
    return document({"events": rows, "cancelled": cancelled})


async def dr_event(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    book, now = _book(request)
    event = book.events.get(event_id)
    metered = services(request).metered
    # What the meters saw (M&V from meter data, v2g.demand_response.metering).
    measured = {"measured": None if metered is None else metered.get(event_id)}
    if event is not None:
        found = event_document(event, event.status_at(now), services(request).measurements.get)
        return document(found | measured)
    if event_id in book.cancelled:
        return document({"id": event_id, "status": "cancelled"} | measured)
    raise Problem(404, "Not Found", f"no DR event {event_id}")


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "100")
    # ASCII digits only and at most 4 of them: str.isdigit() also takes "²" and other
    # digits int() refuses, and int() refuses strings of over 4300 digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4) or not 1 <= int(raw) <= 1000:
        raise Problem(400, "Bad Request", "limit: must be an integer within 1..1000")
    return int(raw)


def _session_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: aware(value).isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
    }


async def sessions(request: web.Request) -> web.Response:
    return await stored_sessions(request, services(request).sessions)


async def session(request: web.Request) -> web.Response:
    return await stored_session(request, services(request).sessions, bill_view)


async def stored_sessions(request: web.Request, store: SqlSessionStore) -> web.Response:
    """``GET /sessions`` from ``store`` (a site's or a portfolio's): newest first."""
    rows = await store.sessions(_limit(request))
    return document({"sessions": [_session_row(r) for r in rows]})


async def stored_session(
    request: web.Request, store: SqlSessionStore, bill: BillView | None = None
) -> web.Response:
    """``GET /sessions/{session_id}`` from ``store``, with its meter values and, where
    there is billing, its ``bill`` (else null)."""
    session_id = request.match_info["session_id"]
    row = await store.session(session_id)
    if row is None:
        raise Problem(404, "Not Found", f"no session {session_id}")
    values = await store.meter_values(session_id)
    return document(
        _session_row(row)
        | {"bill": None if bill is None else await bill(request, row)}
        | {
            "meter_values": [
                {
                    "at": _session_row(v)["at"],
                    "power_w": v["power_w"],
                    "soc_percent": v["soc_percent"],
                }
                for v in values
            ]
        }
    )
