"""The operator API as an aiohttp application: one route table (method, path, roles,
handler), the middlewares (counting, problem+json, auth) and the dashboard's files.

The caller provides the services through a ``cleanup_ctx`` (start-up and tear-down
in one place): ``v2g serve`` opens the store and starts the control cycle there;
tests hand in prepared services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from v2g.api.auth import auth_middleware
from v2g.api.metrics import counting_middleware, metrics
from v2g.api.openapi import BASE, openapi_document
from v2g.api.problem import Handler, problem_middleware
from v2g.api.roles import COMMAND, DEMAND_RESPONSE, OWN, READ
from v2g.api.services import services
from v2g.api.wire import MAX_BODY_BYTES
from v2g.log_setup import keep_malformed_requests_out_of_the_log

STATIC = Path(__file__).parent / "static"

Provide = Callable[[web.Application], AsyncIterator[None]]

#: Seconds aiohttp keeps reading an unread request body after answering (its default,
#: 10 s, lets a sender that announced a huge body and stalled hold the connection).
LINGERING_S = 1.0


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: who may call it (None: anyone) and what answers."""

    method: str
    path: str
    roles: frozenset[str] | None
    handler: Handler


async def _openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def _dashboard(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


ROUTES = (
    Route("GET", f"{BASE}/health", None, reads.health),
    Route("GET", f"{BASE}/openapi.json", None, _openapi),
    Route("GET", f"{BASE}/fleet", READ, reads.fleet),
    Route("GET", f"{BASE}/fleet/{{evse_id}}", READ, reads.fleet_member),
    Route("GET", f"{BASE}/envelope", READ, reads.envelope),
    Route("GET", f"{BASE}/plan", READ, reads.plan),
    Route("GET", f"{BASE}/grid", READ, reads.grid),
    Route("GET", f"{BASE}/dr-events", DEMAND_RESPONSE, reads.dr_events),
    Route("POST", f"{BASE}/dr-events", DEMAND_RESPONSE, writes.post_dr_event),
    Route("GET", f"{BASE}/dr-events/{{event_id}}", DEMAND_RESPONSE, reads.dr_event),
    Route("DELETE", f"{BASE}/dr-events/{{event_id}}", DEMAND_RESPONSE, writes.delete_dr_event),
    Route("GET", f"{BASE}/sessions", READ, reads.sessions),
    Route("GET", f"{BASE}/sessions/{{session_id}}", READ, reads.session),
    Route("GET", f"{BASE}/usage", READ, usage.usage),
    Route("GET", f"{BASE}/flexibility", DEMAND_RESPONSE, flexibility.flexibility),
    Route("GET", f"{BASE}/forecast/sessions", DEMAND_RESPONSE, flexibility.session_forecast),
    Route("GET", f"{BASE}/forecast/base-load", DEMAND_RESPONSE, base_load.forecast),
    Route("POST", f"{BASE}/feeder/base-load", COMMAND, base_load.post_readings),
    Route("GET", f"{BASE}/tariffs", READ, billing.tariffs),
    Route("PUT", f"{BASE}/tariffs", COMMAND, billing.put_tariffs),
    Route("GET", f"{BASE}/cdrs", COMMAND, billing.cdrs),
    Route("GET", f"{BASE}/drivers", COMMAND, drivers.drivers),
    Route("POST", f"{BASE}/drivers", COMMAND, drivers.post_driver),
    Route("GET", f"{BASE}/drivers/{{driver_id}}", OWN, drivers.driver),
    Route("POST", f"{BASE}/drivers/{{driver_id}}/id-tokens", COMMAND, drivers.post_id_token),
    Route("GET", f"{BASE}/drivers/{{driver_id}}/bills", OWN, billing.driver_bills),
    Route("GET", f"{BASE}/authorizations", COMMAND, drivers.authorizations),
    Route("GET", f"{BASE}/reservations", OWN, drivers.reservations),
    Route("POST", f"{BASE}/reservations", OWN, drivers.post_reservation),
    Route("GET", f"{BASE}/reservations/{{reservation_id}}", OWN, drivers.reservation),
    Route("DELETE", f"{BASE}/reservations/{{reservation_id}}", OWN, drivers.delete_reservation),
    Route("GET", f"{BASE}/stations", READ, stations.stations),
    Route("GET", f"{BASE}/stations/{{station_id}}", READ, stations.station),
    Route("GET", f"{BASE}/stations/{{station_id}}/transactions", READ, stations.transactions),
    Route(
        "GET",
        f"{BASE}/stations/{{station_id}}/transactions/{{transaction_id}}",
        READ,
        stations.transaction,
    ),
    Route("POST", f"{BASE}/stations/{{station_id}}/operations", COMMAND, stations.post_operation),
    Route("GET", f"{BASE}/commands", COMMAND, writes.commands),
    Route("POST", f"{BASE}/commands", COMMAND, writes.post_command),
    Route("GET", f"{BASE}/stream", READ, stream.stream),
    Route("GET", "/metrics", READ, metrics),
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
