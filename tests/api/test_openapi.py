"""The OpenAPI document matches the routes: the same operations, the same roles as
enforced, and live answers that fit the documented status codes and schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest

from v2g.api.app import ROUTES
from v2g.api.openapi import openapi_document

DOC = openapi_document(ROUTES)


def response_schema(path: str, method: str, status: int, content_type: str):
    operation = DOC["paths"][path][method.lower()]
    assert str(status) in operation["responses"], f"{method} {path} answered undocumented {status}"
    content = operation["responses"][str(status)].get("content", {})
    assert content_type in content, f"{method} {path} {status}: {content_type} not documented"
    schema = content[content_type].get("schema")
    return None if schema is None else {**schema, "components": DOC["components"]}


def test_the_document_is_openapi_3_1_and_valid_json_schema():
    assert DOC["openapi"] == "3.1.0"
    for schema in DOC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


async def test_the_document_lists_exactly_the_served_operations(api):
    documented = {
        (method.upper(), path)
        for path, item in DOC["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = set()
    for resource in api.client.app.router.resources():
        for route in resource:
            if route.method != "HEAD" and not resource.canonical.startswith("/static"):
                served.add((route.method, resource.canonical))
    served.discard(("GET", "/"))  # the dashboard page, not part of the API
    assert documented == served


def test_the_documented_roles_are_the_enforced_roles():
    for route in ROUTES:
        operation = DOC["paths"][route.path][route.method.lower()]
        if route.roles is None:
            assert "security" not in operation
        else:
            assert operation["x-roles"] == sorted(route.roles)
            assert operation["security"] == [{"bearer": []}]


READS = [
    ("/api/v1/health", None),
    ("/api/v1/fleet", "viewer"),
    ("/api/v1/fleet/{evse_id}", "viewer"),
    ("/api/v1/envelope", "viewer"),
    ("/api/v1/plan", "viewer"),
    ("/api/v1/grid", "viewer"),
    ("/api/v1/dr-events", "utility"),
    ("/api/v1/dr-events/{event_id}", "utility"),
    ("/api/v1/sessions", "viewer"),
    ("/api/v1/sessions/{session_id}", "viewer"),
    ("/api/v1/usage", "viewer"),
    ("/api/v1/commands", "operator"),
]


async def check(api, method, template, role, *, json=None, concrete=None):
    url = concrete or template
    headers = api.auth(role) if role else {}
    response = await api.client.request(method, url, headers=headers, json=json)
    schema = response_schema(template, method, response.status, response.content_type)
    body = await response.json(content_type=None)
    if schema is not None:
        jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    return response.status, body


async def test_live_answers_fit_the_documented_schemas(api):
    event = {
        "id": "evt-1",
        "modification_number": 2,
        "start": "2026-07-01T18:00:00Z",
        "end": "2026-07-01T20:00:00Z",
        "kind": "export_w",
        "value": 15000,
    }
    assert (await check(api, "POST", "/api/v1/dr-events", "utility", json=event))[0] == 201
    assert (await check(api, "POST", "/api/v1/dr-events", "utility", json=event))[0] == 200
    command = {"command": "set_fleet_cap", "power_w": 20000}
    assert (await check(api, "POST", "/api/v1/commands", "operator", json=command))[0] == 202
    await api.services.aggregator.cycle()
    ids = {"{evse_id}": "evse-a", "{event_id}": "evt-1", "{session_id}": "session-a"}
    for template, role in READS:
        url = template
        for key, value in ids.items():
            url = url.replace(key, value)
        status, _ = await check(api, "GET", template, role, concrete=url)
        assert status == 200, template
    for template, role in READS[2:]:
        if "{" in template:
            url = template.split("{")[0] + "nope"
            status, _ = await check(api, "GET", template, role, concrete=url)
            assert status == 404
    cancel = "/api/v1/dr-events/{event_id}"
    status, _ = await check(api, "DELETE", cancel, "utility", concrete="/api/v1/dr-events/evt-1")
    assert status == 200
    status, _ = await check(api, "DELETE", cancel, "utility", concrete="/api/v1/dr-events/evt-1")
    assert status == 404


@pytest.mark.parametrize("path", ["/api/v1/fleet", "/api/v1/plan", "/api/v1/grid"])
async def test_reads_before_the_first_cycle_say_so(api, path):
    api.services.feed._view = None
    response = await api.client.get(path, headers=api.auth("viewer"))
    assert response.status == 503
    response_schema(path, "GET", 503, response.content_type)


def request_schema(name: str):
    return {**DOC["components"]["schemas"][name], "components": DOC["components"]}


def test_the_documented_request_bodies_agree_with_the_parser():
    from tests.api.test_bad_requests import BAD_COMMANDS, BAD_EVENTS, GOOD_EVENT

    events = jsonschema.Draft202012Validator(request_schema("DrEventBody"))
    commands = jsonschema.Draft202012Validator(request_schema("Command"))
    assert events.is_valid(GOOD_EVENT)
    assert commands.is_valid({"command": "set_fleet_cap", "power_w": None})
    assert commands.is_valid({"command": "set_prices", "prices": [["2026-07-01T18:00:00Z", 0.3]]})
    # What JSON Schema can say (not time order, zones or JSON syntax) it says alike.
    beyond_schema = {"malformed JSON", "NaN", "naive time", "not a time", "end before start"}
    beyond_schema |= {"60 KB of nested arrays", "nested arrays, closed"}  # beyond the parser
    for case, (body, _) in BAD_EVENTS.items():
        if case not in beyond_schema:
            assert not events.is_valid(json.loads(body)), case
    for case, body in BAD_COMMANDS.items():
        if case != "naive price time":
            assert not commands.is_valid(body), case


async def test_the_served_document_is_the_generated_one(api):
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200 and response.content_type == "application/json"
    assert await response.json() == json.loads(json.dumps(DOC))


def named(ref: str):
    return DOC["components"]["schemas"][ref.rsplit("/", 1)[1]]


def test_every_documented_request_body_refuses_unknown_fields():
    for route in ROUTES:
        if route.body is None:
            continue
        body = DOC["paths"][route.path][route.method.lower()]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"]
        for choice in named(ref).get("anyOf", [{"$ref": ref}]):
            assert named(choice["$ref"])["additionalProperties"] is False, route.path
