"""Bad requests get problem+json 400/413/415 and change nothing: not the aggregator's
state, not the DR events, not the audit."""

from __future__ import annotations

import json

import pytest

from v2g.api import wire

GOOD_EVENT = {
    "id": "evt-1",
    "modification_number": 1,
    "start": "2026-07-01T18:00:00Z",
    "end": "2026-07-01T20:00:00Z",
    "kind": "export_w",
    "value": 15000,
}


def event(**changes):
    body = dict(GOOD_EVENT)
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return json.dumps(body)


BAD_EVENTS = {
    "malformed JSON": ('{"id": "evt-1", "start": ', "not valid JSON"),
    "not an object": ("[1, 2]", "must be a JSON object"),
    # Python's JSON parser recurses per level: these once answered 500 (RecursionError);
    # decoding into the typed body refuses them at the first "[".
    "60 KB of nested arrays": ("[" * 60_000, "must be a JSON object"),
    "nested arrays, closed": ("[" * 32_000 + "]" * 32_000, "must be a JSON object"),
    "NaN": (event().replace("15000", "NaN"), "not valid JSON"),
    "unknown field": (event(colour="red"), "colour: unknown field"),
    "missing field": (event(kind=...), "kind: missing"),
    "value as a string": (event(value="15000"), "value: must be a finite number"),
    "revision as a float": (event(modification_number=1.5), "modification_number"),
    "revision as a bool": (event(modification_number=True), "modification_number"),
    "naive time": (event(start="2026-07-01T18:00:00"), "start: naive time"),
    "not a time": (event(end="tomorrow"), "end: not an ISO 8601 time"),
    "a number for a time": (event(end=1_780_000_000), "end: not an ISO 8601 time"),
    "end before start": (event(end="2026-07-01T17:00:00Z"), "end:"),
    "unknown kind": (event(kind="export_kw"), "kind:"),
    "negative value": (event(value=-5), "value:"),
    "id as a number": (event(id=7), "id:"),
    # Ids that could forge or hide a log line, or that SQLite cannot store.
    "id with a newline": (event(id="evt-1\n2026-07-01 INFO forged"), "id: contains U+000A"),
    "id with a NUL": (event(id="evt\x001"), "id: contains U+0000"),
    "id with a right-to-left override": (event(id="evt-\u202e1-tve"), "id: contains U+202E"),
    # Not Unicode, so not valid JSON text (RFC 8259 §8.2) for the strict decoder.
    "id with a lone surrogate": (event(id="evt-\ud800"), "surrogate"),
}


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (
            "Object contains unknown field `kw` - at `$.readings[0]`",
            "readings[0].kw: unknown field",
        ),
        ("Object missing required field `kind`", "kind: missing"),
        ("Expected `object`, got `array`", "body: must be a JSON object"),
        ("Expected `float`, got `str` - at `$.value`", "value: must be a finite number"),
        ("Expected `float` <= 10.0 - at `$.factor`", "factor: must be <= 10.0"),
        (
            "Expected `array` of length <= 2000 - at `$.prices`",
            "prices: must have at most 2000 items",
        ),
        ("Expected `int`, got `bool` - at `$.n`", "n: must be int, not bool"),
    ],
)
def test_decoding_errors_name_the_field_in_the_apis_words(message, named):
    assert wire.named(message) == named


async def unchanged(api, before):
    assert api.services.aggregator.state is before
    assert await api.services.audit.entries() == []
    response = await api.client.get("/api/v1/dr-events", headers=api.auth("operator"))
    assert (await response.json())["events"] == []


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
async def test_a_bad_dr_event_is_refused_with_the_field_named_and_changes_nothing(api, case):
    body, reason = BAD_EVENTS[case]
    before = api.services.aggregator.state
    response = await api.client.post(
        "/api/v1/dr-events",
        data=body,
        headers={**api.auth("utility"), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == 400 and reason in problem["detail"]
    await unchanged(api, before)


async def test_any_iso_8601_time_with_a_zone_is_accepted_not_only_rfc_3339(api):
    """SPEC: times are ISO 8601 with a zone; minutes without seconds and offsets too."""
    body = event(start="2026-07-01T20:00+02:00", end="2026-07-01T19:30:00.5Z")
    response = await api.client.post(
        "/api/v1/dr-events",
        data=body,
        headers={**api.auth("utility"), "Content-Type": "application/json"},
    )
    assert response.status == 201, await response.text()
    accepted = api.services.aggregator.state.events.events["evt-1"]
    assert accepted.start.isoformat() == "2026-07-01T20:00:00+02:00"


BAD_COMMANDS = {
    "unknown command": {"command": "discharge_everything"},
    "unknown field": {"command": "set_fleet_cap", "power_w": 5000, "by": "me"},
    "power as a string": {"command": "set_fleet_cap", "power_w": "5 kW"},
    "missing power": {"command": "set_fleet_cap"},
    "prices not pairs": {"command": "set_prices", "prices": [1, 2]},
    "naive price time": {"command": "set_prices", "prices": [["2026-07-01T18:00:00", 0.3]]},
}


@pytest.mark.parametrize("case", BAD_COMMANDS, ids=list(BAD_COMMANDS))
async def test_a_bad_command_is_refused_and_changes_nothing(api, case):
    before = api.services.aggregator.state
    response = await api.client.post(
        "/api/v1/commands", json=BAD_COMMANDS[case], headers=api.auth("operator")
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    await unchanged(api, before)


async def test_a_huge_body_gets_413_and_changes_nothing(api):
    before = api.services.aggregator.state
    huge = event(id="x" * 200_000)
    response = await api.client.post(
        "/api/v1/dr-events",
        data=huge,
        headers={**api.auth("utility"), "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert response.content_type == "application/problem+json"
    assert "too large" in (await response.json())["detail"]
    await unchanged(api, before)


async def test_a_body_not_sent_as_json_gets_415(api):
    before = api.services.aggregator.state
    response = await api.client.post(
        "/api/v1/dr-events",
        data=event(),
        headers={**api.auth("utility"), "Content-Type": "text/plain"},
    )
    assert response.status == 415
    await unchanged(api, before)


async def test_unknown_routes_and_methods_answer_problem_json(api):
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    wrong = await api.client.put("/api/v1/plan", headers=api.auth("operator"))
    assert wrong.status == 405 and wrong.content_type == "application/problem+json"
    bad_limit = await api.client.get("/api/v1/sessions?limit=0", headers=api.auth("viewer"))
    assert bad_limit.status == 400 and bad_limit.content_type == "application/problem+json"
