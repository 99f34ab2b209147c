"""The OpenADR 3 client against the VTN test double: polling, webhooks, tokens,
a VTN that goes down, M&V reports, and bad events refused with their reason."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from tests.openadr.support import eventually
from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET, Vtn3
from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.openadr.oadr3_client import Oadr3Client, Oadr3Config, backoff_s
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.channels import event_ids_from
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

SETTINGS = PlannerSettings(slot_s=300, slots=12, setpoint_valid_s=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def vtn() -> AsyncIterator[Vtn3]:
    double = Vtn3(free_port())
    await double.up()
    yield double
    await double.down()


@pytest.fixture
def client_clock() -> FakeClock:
    """The client's clock (token freshness, health): moved by hand, never slept on."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
async def setup(vtn, tmp_path, client_clock):
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
    config = Oadr3Config(
        vtn.base_url,
        CLIENT_ID,
        CLIENT_SECRET,
        poll_interval_s=0.2,
        backoff_base_s=0.1,
        backoff_max_s=0.4,
    )
    async with aiohttp.ClientSession() as session:
        yield aggregator, Oadr3Client(config, intake, client_clock, session), engine
    aggregator.close()
    await engine.dispose()


async def target_source(aggregator: Aggregator) -> str:
    snapshot = await aggregator.cycle()
    return snapshot.plan.target.sources[0]


async def test_polling_takes_an_event_a_modification_and_a_deletion(vtn, setup):
    aggregator, client, _ = setup
    event = vtn.event("e1", "DISPATCH_SETPOINT", -15, datetime.now(UTC))
    assert await client.poll_once()
    taken = aggregator.state.events.events["openadr3:e1"]
    assert (taken.kind, taken.value_w) == ("export_w", 15_000)
    assert await target_source(aggregator) == taken.source

    vtn.modify("e1", -20)
    assert await client.poll_once()
    replaced = aggregator.state.events.events["openadr3:e1"]
    assert replaced.value_w == 20_000 and replaced.modification_number > taken.modification_number

    del vtn.events[event["id"]]
    assert await client.poll_once()
    assert "openadr3:e1" in aggregator.state.events.cancelled
    assert await target_source(aggregator) == ""


async def test_webhooks_deliver_events_changes_and_deletions(vtn, setup):
    aggregator, client, _ = setup
    port = free_port()
    runner = web.AppRunner(client.webhook_app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        assert await client.subscribe(f"http://127.0.0.1:{port}/openadr3/notifications")
        event = vtn.event("w1", "IMPORT_CAPACITY_LIMIT", 5, datetime.now(UTC))
        await vtn.notify("POST", event)
        assert vtn.notified[-1][0] == 200
        assert aggregator.state.events.events["openadr3:w1"].kind == "import_limit_w"

        await vtn.notify("PUT", vtn.modify("w1", 3))
        assert aggregator.state.events.events["openadr3:w1"].value_w == 3_000

        # A notification that does not carry our bearer token changes nothing.
        await vtn.notify("DELETE", event, token="forged")
        assert vtn.notified[-1][0] == 401 and "bearer token" in vtn.notified[-1][1]
        assert "openadr3:w1" in aggregator.state.events.events

        await vtn.notify("DELETE", event)
        assert vtn.notified[-1][0] == 200
        assert "openadr3:w1" in aggregator.state.events.cancelled
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"intervalPeriod": {"start": "2026-07-01T18:00:00", "duration": "PT1H"}}, "no zone"),
        ({"intervalPeriod": {"start": "2026-07-01T18:00:00Z", "duration": "-PT1H"}}, "duration"),
        ({"intervalPeriod": {"start": "2026-07-01T18:00:00Z", "duration": "PT0S"}}, "duration"),
        ({"intervalPeriod": {"start": "2026-07-01T18:00:00Z", "duration": "P9999Y"}}, "duration"),
        ({"intervals": [{"id": 0, "payloads": [{"type": "GHG", "values": [1]}]}]}, "GHG"),
        (
            {
                "intervals": [
                    {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [-1e9]}]}
                ]
            },
            "value",
        ),
        (
            {
                "intervals": [
                    {"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": ["x"]}]}
                ]
            },
            "number",
        ),
    ],
)
async def test_a_bad_event_is_refused_with_its_reason_and_the_accepted_one_stays(
    vtn, setup, change, reason
):
    aggregator, client, _ = setup
    good = vtn.event("g1", "DISPATCH_SETPOINT", -10, datetime.now(UTC))
    assert (await client.take(good)).accepted
    bad = {**vtn.event("g1", "DISPATCH_SETPOINT", -12, datetime.now(UTC)), **change}
    bad["modificationDateTime"] = "2099-01-01T00:00:00Z"
    outcome = await client.take(bad)
    assert not outcome.accepted and reason in outcome.reason
    assert aggregator.state.events.events["openadr3:g1"].value_w == 10_000


async def test_an_older_revision_is_ignored_and_says_so(vtn, setup):
    aggregator, client, _ = setup
    event = vtn.event("r1", "DISPATCH_SETPOINT", -10, datetime.now(UTC))
    event["modificationDateTime"] = "2026-11-26T10:00:00Z"
    assert (await client.take(event)).accepted
    older = {**event, "modificationDateTime": "2026-11-26T09:00:00Z"}
    older["intervals"] = [{"id": 0, "payloads": [{"type": "DISPATCH_SETPOINT", "values": [-1]}]}]
    outcome = await client.take(older)
    assert not outcome.accepted and "ignored" in outcome.reason
    assert aggregator.state.events.events["openadr3:r1"].value_w == 10_000


async def test_tokens_are_reused_until_they_expire_and_renewed_when_refused(
    vtn, setup, client_clock
):
    _, client, _ = setup
    vtn.token_lifetime_s = 31.0  # fresh for one second (renewed 30 s before expiry)
    assert await client.poll_once() and await client.poll_once()
    assert vtn.tokens_issued == 1
    client_clock.advance(1.2)
    assert await client.poll_once()
    assert vtn.tokens_issued == 2

    vtn.tokens.clear()  # the VTN forgets every token: the next call gets a 401
    assert await client.poll_once()
    assert vtn.tokens_issued == 3 and client.health.reachable


async def test_a_vtn_that_is_down_keeps_the_events_backs_off_and_says_so(vtn, setup):
    aggregator, client, _ = setup
    vtn.event("d1", "DISPATCH_SETPOINT", -10, datetime.now(UTC))
    assert await client.poll_once()
    await vtn.down()
    waits = []
    for _ in range(4):
        assert not await client.poll_once()
        waits.append(client.health.retry_in_s)
    assert waits == [0.1, 0.2, 0.4, 0.4]
    health = client.health
    assert not health.reachable and "keeping 1 events" in health.summary
    assert "openadr3:d1" in aggregator.state.events.events

    await vtn.up()
    stop = asyncio.Event()
    running = asyncio.create_task(client.run(stop))
    await eventually(lambda: client.health.reachable, timeout_s=5)
    stop.set()
    await running
    assert client.health.reachable and client.health.failures == 0
    assert "openadr3:d1" in aggregator.state.events.events


async def test_measurements_are_reported_to_the_vtn(vtn, setup):
    aggregator, client, _ = setup
    clock = FakeClock(datetime.now(UTC))
    aggregator.clock = clock  # the ledger integrates over simulated, not slept, time
    vtn.event("m1", "DISPATCH_SETPOINT", -15, clock.now() - timedelta(seconds=1))
    assert await client.poll_once()
    await aggregator.cycle()
    clock.advance(60)
    await aggregator.cycle()
    assert await client.poll_once()
    [report] = [r for r in vtn.reports if r["eventID"] == "m1"][-1:]
    payloads = {
        p["type"]: p["values"][0] for p in report["resources"][0]["intervals"][0]["payloads"]
    }
    assert payloads["X_DR_DELIVERED_WH"] > 0 and payloads["X_DR_ASKED_WH"] > 0


def test_backoff_doubles_up_to_its_cap():
    assert [backoff_s(n, 1.0, 10.0) for n in range(6)] == [0, 1, 2, 4, 8, 10]


async def test_after_a_restart_an_event_the_vtn_deleted_meanwhile_is_cancelled(vtn, setup):
    aggregator, client, engine = setup
    vtn.event("kept", "DISPATCH_SETPOINT", -5, datetime.now(UTC))
    vtn.event("deleted", "DISPATCH_SETPOINT", -6, datetime.now(UTC))
    assert await client.poll_once()
    del vtn.events["deleted"]

    # A new client (a restarted process) resumes from the store, then polls.
    intake = DemandResponseIntake(aggregator, SqlEventStore(engine))
    async with aiohttp.ClientSession() as session:
        again = Oadr3Client(client.config, intake, SystemClock(), session)
        again.resume(await event_ids_from(engine, "openadr3"))
        assert await again.poll_once()
    assert "openadr3:deleted" in aggregator.state.events.cancelled
    assert "openadr3:kept" in aggregator.state.events.events
