"""OCPP stations: what the store holds of them (state, EVSEs, connectors,
transactions, status history) and the remote operations an operator sends them
through the CSMS (audited like every write)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from v2g.api import schemas, wire
from v2g.api.auth import HOLDER
from v2g.api.problem import Problem
from v2g.api.reads import _limit
from v2g.api.responses import document
from v2g.api.services import services
from v2g.ocpp.csms import CallFailed, StationOffline
from v2g.ocpp.operations import OperationError, ocpp_call
from v2g.ocpp.schemas import PayloadError
from v2g.store import AuditEntry


def _wire(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _station_wire(station: dict[str, Any]) -> dict[str, Any]:
    evses = [
        {**evse, "connectors": [_wire(c) for c in evse["connectors"]]} for evse in station["evses"]
    ]
    return _wire(station) | {"evses": evses}


async def stations(request: web.Request) -> web.Response:
    found = await services(request).stations.stations()
    return document({"stations": [_station_wire(s) for s in found]})


async def _known(request: web.Request) -> tuple[str, dict[str, Any]]:
    station_id = request.match_info["station_id"]
    found = await services(request).stations.station(station_id)
    if found is None:
        raise Problem(404, "Not Found", f"no station {station_id} has connected")
    return station_id, found


async def station(request: web.Request) -> web.Response:
    station_id, found = await _known(request)
    store = services(request).stations
    history = await store.status_history(station_id, 20)
    opened = [t for t in await store.transactions(station_id, 100) if t["ended_at"] is None]
    return document(
        _station_wire(found)
        | {
            "open_transactions": [_wire(t) for t in opened],
            "status_history": [_wire(h) for h in history],
        }
    )


async def transactions(request: web.Request) -> web.Response:
    station_id, _ = await _known(request)
    rows = await services(request).stations.transactions(station_id, _limit(request))
    return document({"transactions": [_wire(t) for t in rows]})


async def transaction(request: web.Request) -> web.Response:
    station_id, _ = await _known(request)
    transaction_id = request.match_info["transaction_id"]
    store = services(request).stations
    found = next(
        (
            t
            for t in await store.transactions(station_id, 1000)
            if t["transaction_id"] == transaction_id
        ),
        None,
    )
    if found is None:
        raise Problem(404, "Not Found", f"no transaction {transaction_id} at {station_id}")
    events = await store.transaction_events(station_id, transaction_id)
    meter = await services(request).sessions.meter_values(found["session_id"])
    return document(
        _wire(found)
        | {
            "transaction_events": [_wire(e) for e in events],
            "meter_values": [
                {"at": _wire(v)["at"], "power_w": v["power_w"], "soc_percent": v["soc_percent"]}
                for v in meter
            ],
        }
    )


async def post_operation(request: web.Request) -> web.Response:
    """``POST /stations/{id}/operations``: one remote operation, answered with the
    station's answer (200), or 409 offline, 502 refused, 504 no answer."""
    station_id = request.match_info["station_id"]
    found = services(request)
    csms = found.csms
    if csms is None or not csms.knows(station_id):
        raise Problem(404, "Not Found", f"no OCPP station {station_id} in the site")
    body = wire.plain(await wire.body(request, schemas.Operation))
    now = found.aggregator.clock.now()
    try:
        call = ocpp_call(station_id, body, csms, csms.new_operation_id, now)
    except OperationError as error:
        raise wire.Invalid(error.problems) from None
    try:
        answer = await csms.call(station_id, call.action, call.payload)
    except PayloadError as error:
        raise wire.Invalid([f"{call.action}: {error.description}"]) from None
    except StationOffline as error:
        await _audit(request, body, False, str(error))
        raise Problem(409, "Conflict", str(error)) from None
    except CallFailed as error:
        await _audit(request, body, False, str(error))
        raise Problem(502, "Bad Gateway", f"station {station_id}: {error}") from None
    except TimeoutError:
        await _audit(request, body, False, "no answer")
        raise Problem(504, "Gateway Timeout", f"station {station_id} did not answer") from None
    status = str(answer.get("status", "answered"))
    await _audit(request, body, True, f"{call.action}: {status}")
    return document(
        {
            "station_id": station_id,
            "action": call.action,
            "request": call.payload,
            "status": status,
            "response": answer,
        }
    )


async def _audit(request: web.Request, body: dict[str, Any], sent: bool, outcome: str) -> None:
    holder = request[HOLDER]
    found = services(request)
    await found.audit.record(
        AuditEntry(
            at=found.aggregator.clock.now(),
            actor=holder.token_id,
            role=holder.role,
            command=f"ocpp:{body.get('operation')}",
            body=body | {"station_id": request.match_info["station_id"]},
            accepted=sent,
            outcome=outcome[:512],
        )
    )
