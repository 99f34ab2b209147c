"""A small OpenADR 3.0.1 VTN test double (aiohttp), written from the spec's API:
``GET /auth/server``, ``POST /auth/token`` (client credentials), ``GET /programs``,
``GET /events?programID=``, ``POST /subscriptions`` (webhooks called on changes) and
``POST /reports``. It can go down and come back on the same port."""

from __future__ import annotations

import base64
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
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/openadr3/3.0.1"

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
                    async with session.post(
                        operations["callbackUrl"],
                        json={"objectType": "EVENT", "operation": operation, "object": event},
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
        basic = request.headers.get("Authorization", "").removeprefix("Basic ")
        user, _, password = base64.b64decode(basic).decode().partition(":")
        if form.get("grant_type") != "client_credentials" or (user, password) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_hex(8)
        self.tokens[token] = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime_s}
        )

    async def _guarded(self, request: web.Request) -> web.Response:
        self.requests += 1
        if not self._authorised(request):
            return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
        kind = request.match_info["kind"]
        if request.method == "GET" and kind == "programs":
            return web.json_response(self.programs)
        if request.method == "GET" and kind == "events":
            program = request.query.get("programID")
            return web.json_response(
                [e for e in self.events.values() if program in (None, e["programID"])]
            )
        body = await request.json()
        if kind == "subscriptions":
            body = {**body, "id": f"sub-{len(self.subscriptions)}"}
            self.subscriptions.append(body)
            return web.json_response(body, status=201)
        if kind == "reports":
            self.reports.append(body)
            return web.json_response({**body, "id": f"rep-{len(self.reports)}"}, status=201)
        return web.json_response({"status": 404}, status=404)

    def app(self) -> web.Application:
        app = web.Application()
        prefix = "/openadr3/3.0.1"

        async def server(_: web.Request) -> web.Response:
            return web.json_response({"tokenURL": f"{self.base_url}/auth/token"})

        app.router.add_get(f"{prefix}/auth/server", server)
        app.router.add_post(f"{prefix}/auth/token", self._token)
        app.router.add_route("*", f"{prefix}/{{kind}}", self._guarded)
        return app

    async def up(self) -> None:
        self.runner = web.AppRunner(self.app())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def down(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
