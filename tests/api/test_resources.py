"""What operators and utilities see and do through the API."""

from __future__ import annotations

import aiohttp
import pytest

from v2g.store import SqlEventStore

EVENT = {
    "id": "evt-7",
    "modification_number": 3,
    "start": "2026-07-01T18:00:00Z",
    "end": "2026-07-01T20:00:00Z",
    "kind": "export_w",
    "value": 15000,
}


async def test_a_utility_event_is_stored_planned_for_and_a_stale_revision_is_ignored_with_why(api):
    created = await api.client.post("/api/v1/dr-events", json=EVENT, headers=api.auth("utility"))
    assert created.status == 201
    assert created.headers["Location"] == "/api/v1/dr-events/evt-7"

    stale = await api.client.post(
        "/api/v1/dr-events",
        json={**EVENT, "modification_number": 2, "value": 1},
        headers=api.auth("utility"),
    )
    body = await stale.json()
    assert stale.status == 200 and body["accepted"] is False
    assert "rev 3 is already accepted" in body["outcome"]

    revised = await api.client.post(
        "/api/v1/dr-events",
        json={**EVENT, "modification_number": 4, "value": 20000},
        headers=api.auth("operator"),
    )
    assert revised.status == 200 and (await revised.json())["accepted"] is True
    book = await SqlEventStore(api.engine).book()
    assert book.events["evt-7"].value_w == 20000

    await api.services.aggregator.cycle()
    plan = await (await api.client.get("/api/v1/plan", headers=api.auth("viewer"))).json()
    assert sum(s["power_w"] for s in plan["setpoints"]) == pytest.approx(-20000, abs=50)
    assert plan["target_sources"][0] == "dr evt-7 rev 4"
    assert "dr evt-7 rev 4" in {s["binding_limit"] for s in plan["setpoints"]}

    audit = await (await api.client.get("/api/v1/commands", headers=api.auth("operator"))).json()
    assert [(c["command"], c["role"], c["accepted"]) for c in audit["commands"]] == [
        ("dr_event", "operator", True),
        ("dr_event", "utility", False),
        ("dr_event", "utility", True),
    ]


async def test_an_operator_cap_is_audited_and_shapes_the_next_plan(api):
    response = await api.client.post(
        "/api/v1/commands",
        json={"command": "set_fleet_cap", "power_w": -4000},
        headers=api.auth("operator"),
    )
    assert response.status == 202
    await api.services.aggregator.cycle()
    fleet = await (await api.client.get("/api/v1/fleet", headers=api.auth("viewer"))).json()
    # The cap asks for 4 kW of export for as long as the plan looks ahead: energy sold
    # now could never be bought back before the cars leave (both are at their target),
    # so departures come first and the plan says what it could not deliver.
    assert sum(r["setpoint_w"] for r in fleet["vehicles"]) == pytest.approx(0.0, abs=1.0)
    plan = await (await api.client.get("/api/v1/plan", headers=api.auth("viewer"))).json()
    assert any(n.startswith("DR:") and "operator fleet cap" in n for n in plan["notes"])
    # Each row says where the vehicle's needs came from (these cars report SoC).
    assert {(r["needs_source"], r["needs_guessed"]) for r in fleet["vehicles"]} == {
        ("soc and capacity", None)
    }
    assert "operator fleet cap" in {r["binding_limit"] for r in fleet["vehicles"]}
    [entry] = await api.services.audit.entries()
    assert entry.command == "set_fleet_cap" and entry.body == {
        "command": "set_fleet_cap",
        "power_w": -4000,
    }
    assert (
        entry.role == "operator"
        and entry.actor
        and entry.actor not in api.tokens["operator"][-40:]
    )


async def test_the_stream_sends_the_latest_snapshot_then_every_new_one(api):
    token = api.tokens["viewer"]
    async with api.client.ws_connect(
        "/api/v1/stream", protocols=("v2g.stream", f"bearer.{token}")
    ) as socket:
        assert socket.protocol == "v2g.stream"
        first = await socket.receive_json(timeout=5)
        assert first["type"] == "snapshot" and len(first["fleet"]) == 2
        await api.services.aggregator.cycle()
        second = await socket.receive_json(timeout=5)
        assert second["cycle"] == first["cycle"] + 1
        assert second["plan"]["setpoints"] and second["grid"]["history"]


async def test_the_stream_refuses_a_handshake_without_a_token(api):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.client.ws_connect("/api/v1/stream", protocols=("v2g.stream",))
    assert refused.value.status == 401


async def test_metrics_are_prometheus_text(api):
    await api.client.get("/api/v1/plan", headers=api.auth("viewer"))
    response = await api.client.get("/metrics", headers=api.auth("viewer"))
    text = await response.text()
    assert response.content_type == "text/plain"
    assert "# TYPE v2g_fleet_vehicles gauge\nv2g_fleet_vehicles 2.0" in text
    assert 'v2g_http_responses_total{status="200"}' in text


async def test_sessions_come_from_the_store_with_their_meter_values(api):
    listing = await (await api.client.get("/api/v1/sessions", headers=api.auth("viewer"))).json()
    assert {s["session_id"] for s in listing["sessions"]} == {"session-a", "session-b"}
    one = await (
        await api.client.get("/api/v1/sessions/session-a", headers=api.auth("viewer"))
    ).json()
    assert one["meter_values"] == [
        {"at": "2026-07-01T18:00:00+00:00", "power_w": 3000.0, "soc_percent": 80.0}
    ]


async def test_on_a_real_feeder_the_grid_shows_every_bus_and_branch_under_the_setpoints(
    feeder_api,
):
    api = feeder_api
    grid = await (await api.client.get("/api/v1/grid", headers=api.auth("viewer"))).json()
    profile = grid["profile"]
    assert grid["network"] == "cigre-lv" and profile["converged"]
    assert len(profile["buses"]) == 44 and len(profile["branches"]) == 37 + 3
    assert "Bus R11" in {b["bus"] for b in profile["buses"]}  # where the cars are
    assert all(
        profile["vm_pu_min"] <= b["vm_pu"] <= profile["vm_pu_max"] for b in profile["buses"]
    )
    assert max(b["loading_percent"] for b in profile["branches"]) == pytest.approx(
        max(
            grid["verdict"]["max_line_loading_percent"],
            grid["verdict"]["max_trafo_loading_percent"],
        ),
        abs=0.05,
    )
