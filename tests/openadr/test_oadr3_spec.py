"""The OpenADR 3 client speaks 3.0.1 (and 3.1.0 when the VTN says so): where the token
comes from, what a subscription and a report carry, what the VTN's refusals leave in
the log and in health, and ids that stay in their channel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from tests.api.conftest import running_api
from tests.openadr.test_oadr3_client import free_port
from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET, Vtn3
from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.openadr.oadr3_client import Oadr3Client, Oadr3Config
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

SETTINGS = PlannerSettings(slot_s=300, slots=12, setpoint_valid_s=120)


@asynccontextmanager
async def fleet(tmp_path) -> AsyncIterator[tuple[Aggregator, DemandResponseIntake]]:
    """Two V2G cars behind a DR intake on a SQLite store."""
    now = datetime.now(UTC)
    builder = v2g_pair(now, stay_h=10)
    aggregator = Aggregator(
        builder.site, CapacityGrid(1e6), RecordingLink(), SystemClock(), SETTINGS
    )
    for event in builder.events:
        aggregator.submit(event)
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    intake = DemandResponseIntake(
        aggregator, SqlEventStore(engine), ledger=MeasurementLedger(aggregator)
    )
    try:
        yield aggregator, intake
    finally:
        aggregator.close()
        await engine.dispose()


@pytest.fixture(params=["3.0.1", "3.1.0"])
async def vtn(request) -> AsyncIterator[Vtn3]:
    double = Vtn3(free_port(), version=request.param)
    await double.up()
    yield double
    await double.down()


@pytest.fixture
async def client(vtn, tmp_path) -> AsyncIterator[Oadr3Client]:
    config = Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET, backoff_base_s=0.1)
    async with fleet(tmp_path) as (_, intake), aiohttp.ClientSession() as session:
        yield Oadr3Client(config, intake, FakeClock(datetime.now(UTC)), session)


async def test_the_token_comes_from_the_versions_own_endpoint_with_the_credentials_in_the_form(
    vtn, client
):
    assert await client.poll_once()
    discovery = ["GET /auth/server"] if vtn.version == "3.1.0" else []
    assert vtn.paths[: len(discovery) + 1] == [*discovery, "POST /auth/token"]
    [form] = [body for kind, body in vtn.seen if kind == "clientCredentialRequest"]
    assert form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }


async def test_a_subscription_names_its_program_and_the_versions_operations(vtn, client):
    vtn.programs.append({"id": "p2", "objectType": "PROGRAM", "programName": "other"})
    ids = await client.subscribe("http://127.0.0.1:9/openadr3/notifications")
    assert len(ids) == 2
    operations = {"3.0.1": ["POST", "PUT", "DELETE"], "3.1.0": ["CREATE", "UPDATE", "DELETE"]}
    for subscription, program in zip(vtn.subscriptions, ("p1", "p2"), strict=True):
        assert subscription["programID"] == program
        [wanted] = subscription["objectOperations"]
        assert wanted["operations"] == operations[vtn.version]
        assert wanted["objects"] == ["EVENT"]


async def test_a_report_carries_the_events_program_also_after_a_restart(vtn, client, tmp_path):
    clock = FakeClock(datetime.now(UTC))
    aggregator = client._intake.aggregator
    aggregator.clock = clock
    vtn.event("m1", "DISPATCH_SETPOINT", -15, clock.now() - timedelta(seconds=1))
    assert await client.poll_once()
    await aggregator.cycle()
    clock.advance(60)
    await aggregator.cycle()
    assert await client.poll_once()
    assert vtn.reports and all(r["programID"] == "p1" for r in vtn.reports)
    assert client.health.report_error == ""

    # Restarted: the client knows the event only by its stored id, asks its program.
    async with aiohttp.ClientSession() as session:
        again = Oadr3Client(client.config, client._intake, clock, session)
        again.resume(["openadr3:m1"])
        sent = len(vtn.reports)
        await again._report()
    assert len(vtn.reports) == sent + 1 and vtn.reports[-1]["programID"] == "p1"
    assert "GET /events/m1" in vtn.paths


async def test_a_vtn_refusal_is_logged_with_its_detail_and_shown_in_health(vtn, client, caplog):
    vtn.refuse["events"] = (400, "programID p1: unknown target group G7")
    with caplog.at_level(logging.WARNING, logger="v2g.openadr.oadr3_client"):
        assert not await client.poll_once()
    assert "unknown target group G7" in caplog.text
    health = client.health
    assert not health.reachable and "unknown target group G7" in health.last_error
    [note] = client._intake.channel_notes()
    assert "unknown target group G7" in note

    del vtn.refuse["events"]
    assert await client.poll_once()
    assert client._intake.channel_notes() == []


async def test_a_report_the_vtn_refuses_is_shown_in_health_and_nothing_else_changes(vtn, client):
    clock = FakeClock(datetime.now(UTC))
    aggregator = client._intake.aggregator
    aggregator.clock = clock
    vtn.event("m2", "DISPATCH_SETPOINT", -15, clock.now() - timedelta(seconds=1))
    assert await client.poll_once()
    await aggregator.cycle()
    clock.advance(60)
    await aggregator.cycle()
    vtn.refuse["reports"] = (400, "report: payload type X_DR_ASKED_WH not allowed")
    assert await client.poll_once()
    assert "X_DR_ASKED_WH not allowed" in client.health.report_error
    assert any("X_DR_ASKED_WH" in n for n in client._intake.channel_notes())
    assert "openadr3:m2" in aggregator.state.events.events


async def test_an_unexpected_failure_never_ends_the_client(vtn, client, caplog):
    vtn.programs[0] = {"objectType": "PROGRAM", "programName": "no id"}  # a VTN bug
    with caplog.at_level(logging.ERROR, logger="v2g.openadr.oadr3_client"):
        assert not await client.poll_once()
    assert "KeyError" in client.health.last_error and "KeyError" in caplog.text
    vtn.programs[0] = {"id": "p1", "objectType": "PROGRAM", "programName": "fleet-dr"}
    assert await client.poll_once() and client.health.reachable


async def test_a_missing_discovery_endpoint_says_what_to_configure(tmp_path):
    vtn = Vtn3(free_port(), version="3.0.1")
    await vtn.up()
    config = Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET, version="3.1.0")
    try:
        async with fleet(tmp_path) as (_, intake), aiohttp.ClientSession() as session:
            client = Oadr3Client(config, intake, SystemClock(), session)
            assert not await client.poll_once()
        assert "no /auth/server" in client.health.last_error
        assert "answered 401" in client.health.last_error
    finally:
        await vtn.down()


def test_an_unknown_version_is_refused():
    with pytest.raises(ValueError, match=r"3\.2\.0"):
        Oadr3Config("http://vtn", "id", "secret", version="3.2.0")


async def test_health_resource_shows_the_vtn_trouble(tmp_path):
    vtn = Vtn3(free_port())
    await vtn.up()
    vtn.refuse["programs"] = (400, "client ven-client is not enrolled")
    try:
        async with running_api(tmp_path, CapacityGrid(1e6), "fake feeder", 1) as api:
            config = Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET)
            async with aiohttp.ClientSession() as session:
                client = Oadr3Client(config, api.services.intake, SystemClock(), session)
                assert not await client.poll_once()
                report = await (await api.client.get("/api/v1/health")).json()
    finally:
        await vtn.down()
    assert report["status"] == "degraded"
    assert any("not enrolled" in note for note in report["notes"])


async def test_an_openadr_cancel_reaches_only_its_own_channels_events(tmp_path):
    vtn = Vtn3(free_port())
    await vtn.up()
    now = datetime.now(UTC)
    http_event = DemandResponseEvent("E9#0", now, now + timedelta(hours=1), "shed_w", 1_000)
    try:
        async with fleet(tmp_path) as (aggregator, intake):
            assert (await intake.receive(http_event, "http")).accepted
            async with aiohttp.ClientSession() as session:
                client = Oadr3Client(
                    Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET),
                    intake,
                    SystemClock(),
                    session,
                )
                vtn.event("E9", "DISPATCH_SETPOINT", -5, now)
                assert await client.poll_once()
                assert "openadr3:E9" in aggregator.state.events.events
                del vtn.events["E9"]
                assert await client.poll_once()
            assert "openadr3:E9" in aggregator.state.events.cancelled
            assert "E9#0" not in aggregator.state.events.cancelled
            assert "E9#0" in aggregator.state.events.events
    finally:
        await vtn.down()


async def test_no_other_channel_may_hand_in_an_id_of_an_openadr_channel(tmp_path):
    now = datetime.now(UTC)
    forged = DemandResponseEvent("openadr3:E9", now, now + timedelta(hours=1), "shed_w", 1)
    async with fleet(tmp_path) as (aggregator, intake):
        before = aggregator.state
        outcome = await intake.receive(forged, "http")
        assert not outcome.accepted and "belong to that channel" in outcome.reason
        assert aggregator.state is before


async def test_webhook_failure_is_answered_500_logged_and_shown(vtn, client, monkeypatch):
    async def broken(_event: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(client, "take", broken)
    port = free_port()
    runner = web.AppRunner(client.webhook_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await client.subscribe(f"http://127.0.0.1:{port}/openadr3/notifications")
        await vtn.notify("PUT", vtn.event("w9", "DISPATCH_SETPOINT", -5, datetime.now(UTC)))
    finally:
        await runner.cleanup()
    assert vtn.notified[-1][0] == 500
    assert "disk on fire" in client.health.last_error


async def test_a_revision_with_fewer_intervals_and_a_bare_legacy_id_leave_nothing_behind(
    tmp_path,
):
    vtn = Vtn3(free_port())
    await vtn.up()
    now = datetime.now(UTC)
    legacy = DemandResponseEvent("L1", now, now + timedelta(minutes=30), "shed_w", 1_000, 1)
    try:
        async with fleet(tmp_path) as (aggregator, intake), aiohttp.ClientSession() as session:
            # Stored by the version before ids had channels, then followed again.
            assert (await intake.receive(legacy, "openadr3")).accepted
            client = Oadr3Client(
                Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET), intake, SystemClock(), session
            )
            client.resume(["L1"])
            two = vtn.event("M1", "DISPATCH_SETPOINT", -5, now)
            two["intervals"].append(
                {"id": 1, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [-6]}]}
            )
            vtn.event("L1", "DISPATCH_SETPOINT_RELATIVE", -1, now)
            assert await client.poll_once()
            held = aggregator.state.events
            assert {"openadr3:M1#0", "openadr3:M1#1", "openadr3:L1"} <= set(held.events)
            assert "L1" in held.cancelled

            vtn.modify("M1", -7)
            vtn.events["M1"]["intervals"].pop()  # the revision drops the second interval
            assert await client.poll_once()
            held = aggregator.state.events
            assert "openadr3:M1#1" in held.cancelled
            assert "openadr3:M1" in held.events and "openadr3:M1" not in held.cancelled
    finally:
        await vtn.down()


@pytest.mark.parametrize("forged", ["openadr3:E9", "openadr2b:E9#0"])
async def test_the_http_api_refuses_an_id_of_an_openadr_channel_and_keeps_its_events(
    tmp_path, forged
):
    body = {
        "id": forged,
        "modification_number": 1,
        "start": "2026-07-01T18:00:00Z",
        "end": "2026-07-01T20:00:00Z",
        "kind": "export_w",
        "value": 15000,
    }
    async with running_api(tmp_path, CapacityGrid(1e6), "fake feeder", 1) as api:
        kept = api.services.aggregator.state.events
        response = await api.client.post(
            "/api/v1/dr-events", json=body, headers=api.auth("utility")
        )
        reply = await response.json()
        assert not reply["accepted"] and "belong to that channel" in reply["outcome"]
        assert api.services.aggregator.state.events == kept
        assert forged not in api.services.aggregator.state.events.events


async def test_an_event_the_store_refuses_is_logged_shown_and_taken_on_a_later_poll(
    tmp_path, caplog
):
    vtn = Vtn3(free_port())
    await vtn.up()
    try:
        async with fleet(tmp_path) as (aggregator, intake), aiohttp.ClientSession() as session:
            store = intake._store
            save = store.save
            failing = True

            async def flaky_save(*args: object) -> None:
                if failing:
                    raise OverflowError("value out of int32 range")
                await save(*args)  # type: ignore[arg-type]

            store.save = flaky_save  # type: ignore[method-assign]
            client = Oadr3Client(
                Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET), intake, SystemClock(), session
            )
            vtn.event("S1", "DISPATCH_SETPOINT", -5, datetime.now(UTC))
            with caplog.at_level(logging.WARNING):
                assert await client.poll_once()  # the VTN was fine; the store was not
            assert "openadr3:S1" not in aggregator.state.events.events  # nothing half-done
            assert "not stored" in client.answers["S1"] and "S1 refused" in caplog.text
            assert intake.store_health.failing

            failing = False
            assert await client.poll_once()
            assert "openadr3:S1" in aggregator.state.events.events
            assert not intake.store_health.failing
    finally:
        await vtn.down()
