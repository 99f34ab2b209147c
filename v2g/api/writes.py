"""Write resources: DR events (through the DR intake) and operator commands (to the
aggregator). Each write is audited with the token's id and role; a refused body
changes nothing and is not audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from v2g.aggregator.intake import StoreFailed
from v2g.api import schemas, wire
from v2g.api.auth import HOLDER
from v2g.api.documents import event_document
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.services import services
from v2g.demand_response import Outcome
from v2g.store import AuditEntry


async def _audit(
    request: web.Request, command: str, body: dict[str, Any], outcome: Outcome
) -> None:
    holder = request[HOLDER]
    found = services(request)
    await found.audit.record(
        AuditEntry(
            at=found.aggregator.clock.now(),
            actor=holder.token_id,
            role=holder.role,
            command=command,
            body=body,
            accepted=outcome.accepted,
            outcome=outcome.reason,
        )
    )


def _unavailable(failure: StoreFailed) -> Problem:
    """The store refused the write: nothing was applied, the sender should retry."""
    return Problem(503, "Service Unavailable", str(failure), headers={"Retry-After": "5"})


async def post_dr_event(request: web.Request) -> web.Response:
    given = await wire.body(request, schemas.DrEventBody)
    event = wire.dr_event(given)
    found = services(request)
    known = event.id in found.aggregator.state.events.events
    try:
        outcome = await found.intake.receive_stored(event, "http")
    except StoreFailed as failure:
        raise _unavailable(failure) from None
    await _audit(request, "dr_event", wire.plain(given), outcome)
    reply = {"accepted": outcome.accepted, "outcome": outcome.reason}
    if not outcome.accepted:
        return document(reply)
    reply["event"] = event_document(event, "accepted")
    if known:
        return document(reply)
    return document(reply, 201, Location=f"/api/v1/dr-events/{quote(event.id, safe='')}")


async def delete_dr_event(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    found = services(request)
    if event_id not in found.aggregator.state.events.events:
        raise Problem(404, "Not Found", f"no active or pending DR event {event_id}")
    try:
        outcome = await found.intake.cancel_stored(event_id)
    except StoreFailed as failure:
        raise _unavailable(failure) from None
    await _audit(request, "cancel_dr_event", {"id": event_id}, outcome)
    return document({"accepted": outcome.accepted, "outcome": outcome.reason})


async def post_command(request: web.Request) -> web.Response:
    given: schemas.Command = await wire.body(request, schemas.Command)
    item = wire.command(given, f"{request[HOLDER].role} {request[HOLDER].token_id}")
    outcome = services(request).aggregator.submit(item)
    body = wire.plain(given)
    await _audit(request, str(body["command"]), body, outcome)
    return document(
        {"accepted": outcome.accepted, "outcome": outcome.reason},
        202 if outcome.accepted else 409,
    )


async def commands(request: web.Request) -> web.Response:
    entries = await services(request).audit.entries(100)
    return document(
        {
            "commands": [
                {
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "role": e.role,
                    "command": e.command,
                    "body": e.body,
                    "accepted": e.accepted,
                    "outcome": e.outcome,
                }
                for e in entries
            ]
        }
    )
