"""A small OpenADR 3.0.1 VTN test double (aiohttp), written from the 3.0.1 YAML:
``POST /auth/token`` (a form with grant_type, client_id and client_secret in the body;
3.0.1 has no ``/auth/server``: ``version="3.1.0"`` adds it), ``GET /programs``,
``GET /events?programID=``, ``GET /events/{id}``, ``POST /subscriptions`` (webhooks
called on changes) and ``POST /reports``. Bodies missing what the YAML requires
(``programID`` of a subscription or report, the operation names) get 400 with a
problem ``detail``. Every object sent or received is kept (``seen``) so a test can
check them against an independent implementation. It can go down and come back on
the same port."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

CLIENT_ID, CLIENT_SECRET = "ven-client", "s3cret"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Vtn3:
    port: int
    token_lifetime_s: float = 3600.0
    programs: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "p1", "objectType": "PROGRAM", "programName": "fleet-dr"}]
    )
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, datetime] = field(default_factory=dict)
    tokens_issued: int = 0
    requests: int = 0
    notified: list[tuple[int, str]] = field(default_factory=list)
    version: str = "3.0.1"
    #: (schema name, object) of everything that crossed the wire, both ways.
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: "METHOD /path" of every request, in order.
    paths: list[str] = field(default_factory=list)
    #: kind -> (status, detail): the VTN refuses every request to /kind so.
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/openadr3/{self.version}"

    @property
    def operations(self) -> set[str]:
        if self.version == "3.0.1":
            return {"GET", "POST", "PUT", "DELETE"}
        return {"CREATE", "READ", "UPDATE", "DELETE"}

    # -- events the test publishes --------------------------------------------------

    def event(
        self,
        event_id: str,
        payload_type: str,
        value: float,
        start: datetime,
        duration: str = "PT30M",
        units: str = "KW",
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        event = {
            "id": event_id,
            "objectType": "EVENT",
            "programID": "p1",
            "createdDateTime": iso(now),
            "modificationDateTime": iso(now),
            "eventName": event_id,
            "payloadDescriptors": [
                {
                    "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                    "payloadType": payload_type,
                    "units": units,
                }
            ],
            "intervalPeriod": {"start": iso(start), "duration": duration},
            "intervals": [{"id": 0, "payloads": [{"type": payload_type, "values": [value]}]}],
        }
        self.events[event_id] = event
        return event

    def modify(self, event_id: str, value: float) -> dict[str, Any]:
        event = self.events[event_id]
        event["intervals"][0]["payloads"][0]["values"] = [value]
        event["modificationDateTime"] = iso(datetime.now(UTC) + timedelta(milliseconds=5))
        return event

    async def notify(
        self, operation: str, event: dict[str, Any], token: str | None = None
    ) -> None:
        """POST a notification to every subscriber (as the VTN does on a change)."""
        async with aiohttp.ClientSession() as session:
            for subscription in self.subscriptions:
                for operations in subscription["objectOperations"]:
                    bearer = token if token is not None else operations["bearerToken"]
                    notification = {"objectType": "EVENT", "operation": operation, "object": event}
                    self.seen.append(("notification", notification))
                    async with session.post(
                        operations["callbackUrl"],
                        json=notification,
                        headers={"Authorization": f"Bearer {bearer}"},
                    ) as response:
                        self.notified.append((response.status, await response.text()))

    # -- the API --------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        expires = self.tokens.get(header.removeprefix("Bearer "))
        return expires is not None and expires > datetime.now(UTC)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.seen.append(("clientCredentialRequest", {k: str(v) for k, v in form.items()}))
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (CLIENT_ID, CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_hex(8)
        self.tokens[token] = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s}
        )

    def _bad(self, detail: str) -> web.Response:
        return web.json_response(
            {"title": "Bad Request", "status": 400, "detail": detail}, status=400
        )

    async def _guarded(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        kind = request.match_info["kind"]
        if kind in self.refuse:
            status, detail = self.refuse[kind]
            return web.json_response(
                {"title": "Refused", "status": status, "detail": detail}, status=status
            )
        item = request.match_info.get("item")
        if request.method == "GET" and kind == "programs":
            self.seen += [("program", p) for p in self.programs]
            return web.json_response(self.programs)
        if request.method == "GET" and kind == "events" and item is not None:
            if item not in self.events:
                return web.json_response({"title": "Not Found", "status": 404}, status=404)
            self.seen.append(("event", self.events[item]))
            return web.json_response(self.events[item])
        if request.method == "GET" and kind == "events":
            program = request.query.get("programID")
            found = [e for e in self.events.values() if program in (None, e["programID"])]
            self.seen += [("event", e) for e in found]
            return web.json_response(found)
        body = await request.json()
        if kind == "subscriptions":
            self.seen.append(("subscription", body))
            if not isinstance(body.get("programID"), str) or not body.get("clientName"):
                return self._bad("subscription: programID and clientName are required")
            for operations in body.get("objectOperations") or []:
                unknown = set(operations.get("operations", [])) - self.operations
                if unknown:
                    return self._bad(f"objectOperations.operations: {sorted(unknown)} unknown")
            body = {**body, "id": f"sub-{len(self.subscriptions)}"}
            self.subscriptions.append(body)
            return web.json_response(body, status=201)
        if kind == "reports":
            self.seen.append(("report", body))
            missing = [k for k in ("programID", "eventID", "clientName") if not body.get(k)]
            if missing:
                return self._bad(f"report: {', '.join(missing)} required")
            self.reports.append(body)
            return web.json_response({**body, "id": f"rep-{len(self.reports)}"}, status=201)
        return web.json_response({"status": 404}, status=404)

    def app(self) -> web.Application:
        @web.middleware
        async def log(request: web.Request, handler: Any) -> web.StreamResponse:
            self.paths.append(f"{request.method} {request.path.removeprefix(prefix)}")
            return await handler(request)  # type: ignore[no-any-return]

        prefix = f"/openadr3/{self.version}"
        app = web.Application(middlewares=[log])

        async def server(_: web.Request) -> web.Response:
            return web.json_response({"tokenURL": f"{self.base_url}/auth/token"})

        if self.version != "3.0.1":
            app.router.add_get(f"{prefix}/auth/server", server)
        app.router.add_post(f"{prefix}/auth/token", self._token)
        app.router.add_route("*", f"{prefix}/{{kind}}", self._guarded)
        app.router.add_route("*", f"{prefix}/{{kind}}/{{item}}", self._guarded)
        return app

    async def up(self) -> None:
        self.runner = web.AppRunner(self.app())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
