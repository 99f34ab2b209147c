"""The OpenAPI 3.1 document of the operator API, generated from the route table: each
``Route`` names its request body and answers as Structs of ``schemas.py``, whose JSON
Schemas msgspec writes, so a route cannot exist without its entry and the parser cannot
disagree with the contract (a test holds routes, roles and live answers to it).

``x-roles`` on an operation lists the roles that may call it; an operation without
``security`` is public.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import msgspec

from v2g.api import schemas
from v2g.api.problem import Handler

BASE = "/api/v1"
REF = "#/components/schemas/{name}"


@dataclass(frozen=True, slots=True)
class Media:
    """An answer that is not one JSON Struct: content types, each with its Struct or
    None (not described further)."""

    description: str
    content: Mapping[str, Any] = field(default_factory=dict)


#: What a route answers with a status: a Struct type (JSON), a string (problem+json,
#: saying when), or ``Media``.
Reply = type | str | Media


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter."""

    name: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: who may call it (None: anyone), what answers, and its document
    entry (summary, request body Struct, answers by status, query parameters)."""

    method: str
    path: str
    roles: frozenset[str] | None
    handler: Handler
    summary: str
    replies: Mapping[int, Reply]
    body: Any = None
    query: tuple[Param, ...] = ()


TIME = {"type": "string", "format": "date-time"}
LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})
WINDOW = (Param("from", TIME), Param("to", TIME))
NOT_FOUND = "not found"

_SECURED = {401: "no token, or an unknown or revoked one", 403: "the token's role may not do this"}
_BODY_PROBLEMS = {
    400: "malformed JSON, unknown field, wrong type",
    413: "body larger than 64 KiB",
    415: "body not sent as application/json",
}


def _types(routes: Iterable[Route]) -> list[Any]:
    """Every Struct (or union of Structs) the routes name, once, in order."""
    found: list[Any] = [schemas.Problem]
    for route in routes:
        named = [route.body, *route.replies.values()]
        named += [
            t for r in route.replies.values() if isinstance(r, Media) for t in r.content.values()
        ]
        for kind in named:
            if kind is not None and not isinstance(kind, str | Media) and kind not in found:
                found.append(kind)
    return found


def _components(types: list[Any]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """Each type's schema (a $ref) and the components they refer to."""
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip(types, refs, strict=True))
    for name, union in schemas.UNIONS.items():
        if union in schema_of:
            components[name] = schema_of[union]
            schema_of[union] = {"$ref": REF.format(name=name)}
    return schema_of, components


def _answer(status: int, reply: Reply, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    if isinstance(reply, str):
        problem = {"schema": schema_of[schemas.Problem]}
        return {"description": reply, "content": {"application/problem+json": problem}}
    if isinstance(reply, Media):
        content = {
            kind: {} if t is None else {"schema": schema_of[t]}
            for kind, t in reply.content.items()
        }
        return {"description": reply.description, "content": content}
    return {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"schema": schema_of[reply]}},
    }


def _operation(route: Route, schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    replies: dict[int, Reply] = dict(route.replies)
    operation: dict[str, Any] = {"summary": route.summary}
    if route.roles is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-roles"] = sorted(route.roles)
        replies = {**_SECURED, **replies}
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema_of[route.body]}},
        }
        replies = {**_BODY_PROBLEMS, **replies}
    if route.query:
        operation["parameters"] = [
            {"name": p.name, "in": "query", "required": p.required, "schema": dict(p.schema)}
            for p in route.query
        ]
    operation["responses"] = {
        str(status): _answer(status, reply, schema_of) for status, reply in sorted(replies.items())
    }
    return operation


def _paths(routes: Iterable[Route], schema_of: Mapping[Any, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for route in routes:
        item = paths.setdefault(route.path, {})
        names = re.findall(r"{(\w+)}", route.path)
        if names:
            item["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                for n in names
            ]
        item[route.method.lower()] = _operation(route, schema_of)
    return paths


def openapi_document(routes: Iterable[Route]) -> dict[str, Any]:
    routes = tuple(routes)
    schema_of, components = _components(_types(routes))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "v2g operator API",
            "version": "1",
            "description": "Power > 0 charges the vehicle, < 0 discharges it to the grid. "
            "Units: W, Wh, s, percent, pu; times RFC 3339 (ISO 8601) with a zone. Errors "
            "are application/problem+json (RFC 9457).",
        },
        "paths": _paths(routes, schema_of),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
