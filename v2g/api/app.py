"""The operator API as an aiohttp application: one route table (method, path, roles,
handler), the middlewares (counting, problem+json, auth) and the dashboard's files.

The caller provides the services through a ``cleanup_ctx`` (start-up and tear-down
in one place): ``v2g serve`` opens the store and starts the control cycle there;
tests hand in prepared services.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from v2g.api import (
    base_load,
    billing,
    drivers,
    flexibility,
    reads,
    stations,
    stream,
    usage,
    writes,
)
from v2g.api import schemas as s
from v2g.api.auth import auth_middleware
from v2g.api.metrics import counting_middleware, metrics
from v2g.api.openapi import (
    BASE,
    LIMIT,
    NOT_FOUND,
    TIME,
    WINDOW,
    Media,
    Param,
    Route,
    openapi_document,
)
from v2g.api.problem import problem_middleware
from v2g.api.roles import COMMAND, DEMAND_RESPONSE, OWN, READ
from v2g.api.services import services
from v2g.api.wire import MAX_BODY_BYTES
from v2g.log_setup import keep_malformed_requests_out_of_the_log

STATIC = Path(__file__).parent / "static"

Provide = Callable[[web.Application], AsyncIterator[None]]

#: Seconds aiohttp keeps reading an unread request body after answering (its default,
#: 10 s, lets a sender that announced a huge body and stalled hold the connection).
LINGERING_S = 1.0


@functools.cache
def _document() -> bytes:
    """The document, generated once (about 20 ms) when first asked for."""
    return json.dumps(openapi_document(ROUTES)).encode()


async def _openapi(_request: web.Request) -> web.Response:
    return web.Response(body=_document(), content_type="application/json")


async def _dashboard(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


NO_PLAN = "no plan yet (the first control cycle has not run)"
STORE_FAILED = "the store refused the write: nothing was applied; retry"
EVENT, STATION = f"{BASE}/dr-events/{{event_id}}", f"{BASE}/stations/{{station_id}}"
DRIVER, RESERVATION = f"{BASE}/drivers/{{driver_id}}", f"{BASE}/reservations/{{reservation_id}}"

ROUTES = (
    Route(
        "GET", f"{BASE}/health", None, reads.health, "Liveness and the last cycle", {200: s.Health}
    ),
    Route(
        "GET",
        f"{BASE}/openapi.json",
        None,
        _openapi,
        "This document",
        {200: Media("OpenAPI 3.1", {"application/json": None})},
    ),
    Route(
        "GET",
        f"{BASE}/fleet",
        READ,
        reads.fleet,
        "Connected vehicles",
        {200: s.Fleet, 503: NO_PLAN},
    ),
    Route(
        "GET",
        f"{BASE}/fleet/{{evse_id}}",
        READ,
        reads.fleet_member,
        "One connected vehicle",
        {200: s.FleetMember, 404: NOT_FOUND, 503: NO_PLAN},
    ),
    Route(
        "GET",
        f"{BASE}/envelope",
        READ,
        reads.envelope,
        "The virtual-battery envelope over the horizon",
        {200: s.Envelope, 503: NO_PLAN},
    ),
    Route(
        "GET",
        f"{BASE}/plan",
        READ,
        reads.plan,
        "The current dispatch plan",
        {200: s.Plan, 503: NO_PLAN},
    ),
    Route(
        "GET",
        f"{BASE}/grid",
        READ,
        reads.grid,
        "The feeder: the plan's AC verdict and recent history",
        {200: s.Grid, 503: NO_PLAN},
    ),
    Route(
        "GET",
        f"{BASE}/dr-events",
        DEMAND_RESPONSE,
        reads.dr_events,
        "Accepted DR events",
        {200: s.DrEvents},
    ),
    Route(
        "POST",
        f"{BASE}/dr-events",
        DEMAND_RESPONSE,
        writes.post_dr_event,
        "Send a DR event: 201 new; 200 replaced, the same revision again (accepted), or "
        "ignored (accepted false, with why)",
        {201: s.Outcome, 200: s.Outcome, 503: STORE_FAILED},
        body=s.DrEventBody,
    ),
    Route(
        "GET",
        EVENT,
        DEMAND_RESPONSE,
        reads.dr_event,
        "One DR event",
        {200: s.DrEvent, 404: NOT_FOUND},
    ),
    Route(
        "DELETE",
        EVENT,
        DEMAND_RESPONSE,
        writes.delete_dr_event,
        "Cancel a DR event at once",
        {200: s.Outcome, 404: NOT_FOUND, 503: STORE_FAILED},
    ),
    Route(
        "GET",
        f"{BASE}/sessions",
        READ,
        reads.sessions,
        "Charging sessions, newest first",
        {200: s.Sessions, 400: "bad limit"},
        query=(LIMIT,),
    ),
    Route(
        "GET",
        f"{BASE}/sessions/{{session_id}}",
        READ,
        reads.session,
        "One session with its meter values",
        {200: s.Session, 404: NOT_FOUND},
    ),
    Route(
        "GET",
        f"{BASE}/usage",
        READ,
        usage.usage,
        "Usage per EVSE, for the site and per hour of the week (JSON, or CSV "
        "with Accept: text/csv)",
        {
            200: Media("usage", {"application/json": s.Usage, "text/csv": None}),
            400: "bad from, to, tz or by",
        },
        query=(
            *WINDOW,
            Param("tz", {"type": "string", "default": "UTC"}),
            Param("by", {"enum": ["evse", "hour"], "default": "evse"}),
        ),
    ),
    Route(
        "GET",
        f"{BASE}/flexibility",
        DEMAND_RESPONSE,
        flexibility.flexibility,
        "What the fleet can export or shed in a window (up to 24 h, starting within 2 days), "
        "reached in every slot on a share `confidence` of similar days",
        {200: s.Flexibility, 400: "bad window"},
        query=(
            Param("start", TIME, required=True),
            Param("end", TIME, required=True),
            Param("confidence", {"type": "number", "minimum": 0.5, "exclusiveMaximum": 1}),
        ),
    ),
    Route(
        "GET",
        f"{BASE}/forecast/sessions",
        DEMAND_RESPONSE,
        flexibility.session_forecast,
        "Arrivals per hour, dwell times and energy needs per hour of the week (0 = Monday "
        "00:00 UTC) as quantiles, learned from the last 90 days of sessions",
        {200: s.SessionForecast, 400: "bad quantiles"},
        query=(Param("quantiles", {"type": "string", "example": "0.1,0.5,0.9"}),),
    ),
    Route(
        "GET",
        f"{BASE}/forecast/base-load",
        DEMAND_RESPONSE,
        base_load.forecast,
        "The feeder's base load (factor of the network's own loads) per quarter hour for two "
        "days, as quantiles, learned every 6 h from the stored readings; the planner's grid "
        "rows take `plan_quantile`",
        {200: s.BaseLoadForecast},
    ),
    Route(
        "POST",
        f"{BASE}/feeder/base-load",
        COMMAND,
        base_load.post_readings,
        "Store base-load readings (all or none; a reading at a stored moment replaces it)",
        {200: s.Stored},
        body=s.BaseLoadReadings,
    ),
    Route(
        "GET",
        f"{BASE}/tariffs",
        READ,
        billing.tariffs,
        "The tariffs in force (the first is the site's default)",
        {200: s.Tariffs},
    ),
    Route(
        "PUT",
        f"{BASE}/tariffs",
        COMMAND,
        billing.put_tariffs,
        "Replace every tariff, all or nothing (audited)",
        {200: s.Tariffs},
        body=s.Tariffs,
    ),
    Route(
        "GET",
        f"{BASE}/cdrs",
        COMMAND,
        billing.cdrs,
        "OCPI 2.2.1 CDRs of the sessions that ended between from and to (default the last "
        "31 days, at most 92)",
        {200: s.Cdrs, 400: "bad from or to"},
        query=WINDOW,
    ),
    Route("GET", f"{BASE}/drivers", COMMAND, drivers.drivers, "Every driver", {200: s.Drivers}),
    Route(
        "POST",
        f"{BASE}/drivers",
        COMMAND,
        drivers.post_driver,
        "Register a driver",
        {201: s.Driver, 409: "the id is taken"},
        body=s.DriverBody,
    ),
    Route(
        "GET",
        DRIVER,
        OWN,
        drivers.driver,
        "A driver with their tokens (a driver token: its own only)",
        {200: s.Driver, 404: NOT_FOUND},
    ),
    Route(
        "POST",
        f"{DRIVER}/id-tokens",
        COMMAND,
        drivers.post_id_token,
        "Add a token to a driver (201), or change one it holds (200: validity, blocked)",
        {201: s.IdToken, 200: s.IdToken, 404: NOT_FOUND, 409: "another driver holds the token"},
        body=s.IdToken,
    ),
    Route(
        "GET",
        f"{DRIVER}/bills",
        OWN,
        billing.driver_bills,
        "A driver's bills with cost, V2G remuneration and settlement (a driver "
        "token: its own only)",
        {200: s.DriverBills},
    ),
    Route(
        "GET",
        f"{BASE}/authorizations",
        COMMAND,
        drivers.authorizations,
        "Refused tokens with their reason, newest first",
        {200: s.Refusals},
    ),
    Route(
        "GET",
        f"{BASE}/reservations",
        OWN,
        drivers.reservations,
        "Bookings (a driver token: its own)",
        {200: s.Reservations},
    ),
    Route(
        "POST",
        f"{BASE}/reservations",
        OWN,
        drivers.post_reservation,
        "Book an EVSE, or any free EVSE of the site, for a window",
        {201: s.Reservation, 409: "the EVSE (or every EVSE) is booked then"},
        body=s.ReservationBody,
    ),
    Route(
        "GET",
        RESERVATION,
        OWN,
        drivers.reservation,
        "One booking (a driver token: its own)",
        {200: s.Reservation, 404: NOT_FOUND},
    ),
    Route(
        "DELETE",
        RESERVATION,
        OWN,
        drivers.delete_reservation,
        "Cancel a booking still open",
        {200: s.Outcome, 404: NOT_FOUND, 409: "no longer open"},
    ),
    Route(
        "GET",
        f"{BASE}/stations",
        READ,
        stations.stations,
        "OCPP stations: online or not, their EVSEs and connector states",
        {200: s.Stations},
    ),
    Route(
        "GET",
        STATION,
        READ,
        stations.station,
        "One station with its open transactions and latest status changes",
        {200: s.StationDetail, 404: NOT_FOUND},
    ),
    Route(
        "GET",
        f"{STATION}/transactions",
        READ,
        stations.transactions,
        "The station's transactions, newest first",
        {200: s.Transactions, 400: "bad limit", 404: NOT_FOUND},
        query=(LIMIT,),
    ),
    Route(
        "GET",
        f"{STATION}/transactions/{{transaction_id}}",
        READ,
        stations.transaction,
        "One transaction with its TransactionEvents and meter values",
        {200: s.TransactionDetail, 404: NOT_FOUND},
    ),
    Route(
        "POST",
        f"{STATION}/operations",
        COMMAND,
        stations.post_operation,
        "A remote operation sent to the station over OCPP (audited)",
        {
            200: s.OperationResult,
            404: "no OCPP station of that id in the site",
            409: "the station is not connected",
            502: "the station refused the call (CALLERROR) or answered badly",
            504: "the station did not answer in time",
        },
        body=s.Operation,
    ),
    Route(
        "GET",
        f"{BASE}/commands",
        COMMAND,
        writes.commands,
        "The command audit, newest first",
        {200: s.Audit},
    ),
    Route(
        "POST",
        f"{BASE}/commands",
        COMMAND,
        writes.post_command,
        "An operator override (audited): 202 taken, 409 refused with why",
        {202: s.Outcome, 409: s.Outcome},
        body=s.Command,
    ),
    Route(
        "GET",
        f"{BASE}/stream",
        READ,
        stream.stream,
        "WebSocket of plan and fleet updates (one JSON message per snapshot; subprotocol "
        "v2g.stream; browsers pass the token as subprotocol bearer.TOKEN)",
        {101: Media("switching to WebSocket")},
    ),
    Route(
        "GET",
        "/metrics",
        READ,
        metrics,
        "Prometheus text exposition",
        {200: Media("metrics", {"text/plain": None})},
    ),
)


#: The dashboard loads only its own files and talks only to its own origin; no page may
#: frame it (clickjacking).
DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    """No content sniffing anywhere; data is never cached (it is live and may be
    confidential); the dashboard carries its Content-Security-Policy."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path.startswith("/api/") or request.path == "/metrics":
        response.headers.setdefault("Cache-Control", "no-store")
    if request.path == "/" or request.path.startswith("/static/"):
        response.headers.setdefault("Content-Security-Policy", DASHBOARD_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")


def make_app(provide: Provide) -> web.Application:
    """The API and dashboard; ``provide`` sets ``app[SERVICES]`` at start-up (and
    releases what it opened at tear-down)."""
    roles_of = {(r.method, r.path): r.roles for r in ROUTES if r.roles is not None}
    # aiohttp quotes a malformed request's bytes (a token among them) in its log.
    keep_malformed_requests_out_of_the_log()
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[
            counting_middleware(services),
            problem_middleware,
            auth_middleware(
                roles_of,
                lambda request: services(request).tokens,
                lambda request: services(request).buckets,
            ),
        ],
    )
    app.cleanup_ctx.append(provide)
    app.on_response_prepare.append(_secure_headers)
    for route in ROUTES:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler)  # HEAD too (RFC 9110 §9.3.2)
        else:
            app.router.add_route(route.method, route.path, route.handler)
    app.router.add_get("/", _dashboard)
    app.router.add_static("/static", STATIC)
    return app
