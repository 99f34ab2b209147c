"""Wire JSON into the typed bodies of ``schemas.py``, at once and strictly (msgspec):
unknown fields, wrong types, naive times and impossible values are refused with the
offending field named (HTTP 400); what only the domain can judge (time order, printable
ids) is refused by the domain type, also as a 400."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, TypeVar, overload

import msgspec
from aiohttp import web

from v2g.aggregator import Input, SetFleetCap, SetPrices
from v2g.api import schemas
from v2g.api.problem import Problem
from v2g.api.schemas import IsoTime
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, InvalidEvent

#: Largest request body accepted (a DR event or a command is well under 1 KiB; a price
#: curve for a week at 15 minutes is about 40 KiB).
MAX_BODY_BYTES = 64 * 1024
#: Seconds a request body may take to arrive (a few KiB; a sender that announces a body
#: and stalls is cut off).
BODY_READ_TIMEOUT_S = 10.0

T = TypeVar("T")


class Invalid(Problem):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(400, "Bad Request", "; ".join(errors), errors)


@overload
async def body(request: web.Request, into: type[T]) -> T: ...
@overload
async def body(request: web.Request, into: Any) -> Any: ...
async def body(request: web.Request, into: Any) -> Any:
    """The request's body decoded into ``into`` (a Struct or a union of tagged Structs):
    413 when too large, 415 when not sent as JSON, 408 when it does not arrive, 400
    naming the field when it does not fit."""
    raw = await _raw(request)
    try:
        return msgspec.json.decode(raw, type=into, strict=True, dec_hook=_decoded)
    except msgspec.ValidationError as error:
        raise Invalid([named(str(error))]) from None
    except msgspec.DecodeError as error:
        raise Invalid([f"body: not valid JSON ({error})"]) from None
    except RecursionError:
        # Only a field typed Any could nest (none is): a 400, never a 500.
        raise Invalid(["body: nested too deeply to be a request"]) from None


def plain(decoded: Any) -> Any:
    """A decoded body as plain JSON values again (for the audit, and for parsers that
    take dicts); times as ISO 8601."""
    return msgspec.to_builtins(decoded, enc_hook=_encoded)


def _encoded(value: Any) -> Any:
    if isinstance(value, IsoTime):
        return value.isoformat()
    raise NotImplementedError(type(value))


def _decoded(kind: type, value: Any) -> Any:
    """The API's own types that JSON carries as strings (msgspec's ``dec_hook``)."""
    if kind is not IsoTime:
        raise NotImplementedError(kind)
    try:
        moment = IsoTime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(f"not an ISO 8601 time: {str(value)[:40]!r}")
    if moment.tzinfo is None:
        raise ValueError(f"naive time {value[:40]!r}; add a zone (e.g. Z)")
    return moment


async def _raw(request: web.Request) -> bytes:
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
        return await asyncio.wait_for(request.read(), timeout=BODY_READ_TIMEOUT_S)
    except TimeoutError:
        raise Problem(
            408,
            "Request Timeout",
            f"the request body did not arrive within {BODY_READ_TIMEOUT_S:g} s",
            headers={"Connection": "close"},
        ) from None


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$\.?(?P<at>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"Object (?P<kind>contains unknown|missing required) field `(?P<name>.+)`")
_BOUND = {">=": "at least", "<=": "at most", ">": "more than", "<": "fewer than"}
_UNITS = {"array": "items", "str": "characters"}
#: msgspec's words for a value that does not fit, in the API's (first match wins).
_WORDS: tuple[tuple[str, Callable[[re.Match[str]], str]], ...] = (
    (r"Expected `object`, got", lambda _: "must be an object"),
    (
        r"Expected `float( \| null)?`, got|Number out of range",
        lambda m: "must be a finite number" + (" or null" if m[1] else ""),
    ),
    (r"Expected `\w+` ([<>]=?) (\S+)$", lambda m: f"must be {m[1]} {m[2]}"),
    (r"Expected `(array|str)` of length >= 1", lambda _: "must not be empty"),
    (
        r"Expected `(array|str)` of length ([<>]=?) (\d+)",
        lambda m: f"must have {_BOUND[m[2]]} {m[3]} {_UNITS[m[1]]}",
    ),
    (r"Expected `([^`]+)`, got `(\w+)`", lambda m: f"must be {m[1]}, not {m[2]}"),
)


def named(message: str) -> str:
    """A msgspec validation error as ``field: what is wrong``."""
    found = _AT.match(message)
    what, at = (found["what"], found["at"] or "") if found else (message, "")
    if field := _FIELD.match(what):
        name = f"{at}.{field['name']}" if at else field["name"]
        return f"{name}: {'unknown field' if field['kind'] == 'contains unknown' else 'missing'}"
    for pattern, words in _WORDS:
        if matched := re.match(pattern, what):
            what = words(matched)
            break
    if not at:
        return f"body: {what.replace('an object', 'a JSON object')}"
    return f"{at}: {what[:1].lower()}{what[1:]}".replace("`", "")


def dr_event(given: schemas.DrEventBody) -> DemandResponseEvent:
    """The domain event (its own checks: time order, printable id)."""
    try:
        return DemandResponseEvent(
            id=given.id,
            start=given.start,
            end=given.end,
            kind=given.kind,
            value_w=given.value,
            modification_number=given.modification_number,
        )
    except InvalidEvent as error:
        raise Invalid([str(error)]) from None


def command(given: schemas.Command, actor: str) -> Input:
    """An operator command: ``set_fleet_cap`` (W, + = charging; null lifts the cap) or
    ``set_prices`` ([time, price per kWh] pairs, step-wise)."""
    if isinstance(given, schemas.SetFleetCapCommand):
        return SetFleetCap(given.power_w, by=actor)
    return SetPrices(StepCurve.of(list(given.prices)))
