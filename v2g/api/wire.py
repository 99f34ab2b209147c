"""Wire JSON into domain types, at once and strictly: unknown fields, wrong types and
impossible values are refused with every offending field named (HTTP 400)."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime
from typing import Any

from aiohttp import web

from v2g.aggregator import Input, SetFleetCap, SetPrices
from v2g.api.problem import Problem
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, InvalidEvent
from v2g.demand_response.event import MAX_DR_VALUE_W, unprintable_in

#: Largest request body accepted (a DR event or a command is well under 1 KiB; a price
#: curve for a week at 15 minutes is about 40 KiB).
MAX_BODY_BYTES = 64 * 1024
#: Seconds a request body may take to arrive (a few KiB; a sender that announces a body
#: and stalls is cut off).
BODY_READ_TIMEOUT_S = 10.0
#: Points a price curve may have.
MAX_PRICE_POINTS = 2000

DR_EVENT_FIELDS = {"id", "modification_number", "start", "end", "kind", "value"}
COMMANDS = ("set_fleet_cap", "set_prices")


class Invalid(Problem):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(400, "Bad Request", "; ".join(errors), errors)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's body as a JSON object (413 when too large, 400 when not JSON or
    not an object, 415 when not sent as JSON)."""
    if request.content_type != "application/json":
        raise Problem(415, "Unsupported Media Type", "send the body as application/json")
    announced = request.content_length
    if announced is not None and announced > MAX_BODY_BYTES:
        # Refused before reading: a body announced at 10 GB and never sent must not
        # hold the connection (aiohttp reads on for LINGERING_S after the answer).
        raise Problem(
            413,
            "Content Too Large",
            f"request body too large ({announced} bytes announced, at most {MAX_BODY_BYTES})",
            headers={"Connection": "close"},
        )
    try:
        # aiohttp refuses bodies over client_max_size (413) as they arrive.
        raw = await asyncio.wait_for(request.read(), timeout=BODY_READ_TIMEOUT_S)
    except TimeoutError:
        raise Problem(
            408,
            "Request Timeout",
            f"the request body did not arrive within {BODY_READ_TIMEOUT_S:g} s",
            headers={"Connection": "close"},
        ) from None
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise Invalid([f"body: not valid JSON ({error})"]) from None
    except RecursionError:
        # Python's parser recurses per nesting level: 60 KB of "[" exhausts the stack.
        raise Invalid(["body: nested too deeply to be a request"]) from None
    if not isinstance(data, dict):
        raise Invalid(["body: must be a JSON object"])
    return data


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def unknown_fields(data: dict[str, Any], allowed: set[str]) -> list[str]:
    return [f"{key}: unknown field" for key in sorted(set(data) - allowed)]


def time_field(data: dict[str, Any], key: str, errors: list[str]) -> datetime | None:
    value = data.get(key)
    if not isinstance(value, str):
        errors.append(f"{key}: must be an ISO 8601 time with a zone")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.append(f"{key}: not an ISO 8601 time: {value[:40]!r}")
        return None
    if moment.tzinfo is None:
        errors.append(f"{key}: naive time {value[:40]!r}; add a zone (e.g. Z)")
        return None
    return moment


def number_field(value: Any, key: str, errors: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(f"{key}: must be a finite number")
        return None
    return float(value)


def dr_event(data: dict[str, Any]) -> DemandResponseEvent:
    """A DR event from its wire body (docs/api.md): ``id``, ``modification_number`` (0 when
    absent), ``start``, ``end``, ``kind``, ``value`` (W)."""
    errors = unknown_fields(data, DR_EVENT_FIELDS)
    for key in ("id", "start", "end", "kind", "value"):
        if key not in data:
            errors.append(f"{key}: missing")
    event_id = data.get("id")
    if "id" in data and not (isinstance(event_id, str) and 0 < len(event_id) <= 256):
        errors.append("id: must be a string of 1..256 characters")
    elif isinstance(event_id, str) and (bad := unprintable_in(event_id)) is not None:
        errors.append(f"id: contains {bad} (control, format or unassigned characters)")
    revision = data.get("modification_number", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or not 0 <= revision < 2**31:
        errors.append("modification_number: must be an integer within 0..2147483647")
    start = time_field(data, "start", errors) if "start" in data else None
    end = time_field(data, "end", errors) if "end" in data else None
    kind = data.get("kind")
    if "kind" in data and not isinstance(kind, str):
        errors.append("kind: must be a string")
    value = number_field(data["value"], "value", errors) if "value" in data else None
    if value is not None and not 0 <= value <= MAX_DR_VALUE_W:
        errors.append(f"value: must lie within 0..{MAX_DR_VALUE_W:g} W")
    if errors:
        raise Invalid(errors)
    assert start is not None and end is not None and value is not None
    try:
        return DemandResponseEvent(
            id=str(event_id),
            start=start,
            end=end,
            kind=str(kind),
            value_w=value,
            modification_number=int(revision),
        )
    except InvalidEvent as error:
        raise Invalid([str(error)]) from None


def command(data: dict[str, Any], actor: str) -> Input:
    """An operator command from its wire body:
    ``{"command": "set_fleet_cap", "power_w": 20000}`` (W, + = charging; null lifts
    the cap) or ``{"command": "set_prices", "prices": [["2026-07-01T17:00:00Z", 0.45]]}``
    (per kWh, step-wise)."""
    name = data.get("command")
    if name not in COMMANDS:
        raise Invalid([f"command: must be one of {', '.join(COMMANDS)}"])
    if name == "set_fleet_cap":
        errors = unknown_fields(data, {"command", "power_w"})
        if "power_w" not in data:
            errors.append("power_w: missing (null lifts the cap)")
        power = data.get("power_w")
        cap = None if power is None else number_field(power, "power_w", errors)
        if cap is not None and abs(cap) > MAX_DR_VALUE_W:
            errors.append(f"power_w: must lie within -{MAX_DR_VALUE_W:g}..{MAX_DR_VALUE_W:g} W")
        if errors:
            raise Invalid(errors)
        return SetFleetCap(cap, by=actor)
    errors = unknown_fields(data, {"command", "prices"})
    raw = data.get("prices")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_PRICE_POINTS:
        errors.append(f"prices: must be a list of 1..{MAX_PRICE_POINTS} [time, price] pairs")
        raise Invalid(errors)
    points = []
    for i, pair in enumerate(raw):
        if not (isinstance(pair, list) and len(pair) == 2):
            errors.append(f"prices[{i}]: must be a [time, price] pair")
            continue
        probe: list[str] = []
        moment = time_field({"t": pair[0]}, "t", probe)
        price = number_field(pair[1], f"prices[{i}][1]", errors)
        errors += [f"prices[{i}][0]: {p.split(': ', 1)[1]}" for p in probe]
        if moment is not None and price is not None:
            points.append((moment, price))
    if errors:
        raise Invalid(errors)
    return SetPrices(StepCurve.of(points))
