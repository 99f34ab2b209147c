"""OpenADR 3 revisions are epoch milliseconds (past 2**31): stored and read back on
both back ends, and a store made when the column was 32-bit is widened at start-up
without losing its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import create_async_engine

from tests.openadr.test_oadr3_client import free_port
from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET, Vtn3
from v2g.aggregator import Aggregator, AggregatorState, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.clock import SystemClock
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.reconcile import Boundary
from v2g.dispatch import PlannerSettings
from v2g.openadr.oadr3_client import Oadr3Client, Oadr3Config
from v2g.store import SqlEventStore, open_store
from v2g.store.boundaries import SqlBoundaryStore
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
#: An OpenADR 3 modificationDateTime in epoch milliseconds (2026-12-04T06:00:00.123Z).
MS_REVISION = int(T0.timestamp() * 1000) + 123


def event(revision: int, event_id: str = "openadr3:e1") -> DemandResponseEvent:
    return DemandResponseEvent(event_id, T0, T0 + timedelta(hours=1), "export_w", 10_000, revision)


async def test_a_millisecond_revision_is_stored_and_read_back(store_url):
    assert MS_REVISION > 2**31
    engine = await open_store(store_url)
    try:
        events = SqlEventStore(engine)
        await events.save(event(MS_REVISION), "openadr3", T0)
        await events.save(event(MS_REVISION + 5), "openadr3", T0)  # a later edit, same second
        boundary = Boundary("openadr3:e1", MS_REVISION + 5, "start", T0)
        assert await SqlBoundaryStore(engine).mark(boundary, "on time", T0)
    finally:
        await engine.dispose()
    engine = await open_store(store_url)
    try:
        book = await SqlEventStore(engine).book()
        [row] = await SqlBoundaryStore(engine).history()
    finally:
        await engine.dispose()
    assert book.events["openadr3:e1"].modification_number == MS_REVISION + 5
    assert row["modification_number"] == MS_REVISION + 5


def legacy_schema() -> MetaData:
    """dr_events and dr_boundaries as they were: 32-bit revisions."""
    legacy = MetaData()
    Table(
        "dr_events",
        legacy,
        Column("event_id", String(256), primary_key=True),
        Column("modification_number", Integer, nullable=False),
        Column("start", DateTime(timezone=True), nullable=False),
        Column("end", DateTime(timezone=True), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("value_w", Float, nullable=False),
        Column("channel", String(64), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False),
        Column("cancelled_at", DateTime(timezone=True)),
    )
    Table(
        "dr_boundaries",
        legacy,
        Column("key", String(300), primary_key=True),
        Column("event_id", String(256), nullable=False, index=True),
        Column("modification_number", Integer, nullable=False),
        Column("edge", String(8), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False),
        Column("how", String(128), nullable=False),
    )
    return legacy


async def test_a_store_with_32_bit_revisions_is_widened_and_keeps_its_events(store_url):
    old = create_async_engine(store_url)
    async with old.begin() as connection:
        await connection.run_sync(legacy_schema().create_all)
    await old.dispose()
    engine = await open_store(store_url)  # the old rows must survive this
    try:
        events = SqlEventStore(engine)
        await events.save(event(7, "http-old"), "http", T0)
        await events.save(event(MS_REVISION), "openadr3", T0)
        await SqlBoundaryStore(engine).mark(
            Boundary("openadr3:e1", MS_REVISION, "end", T0), "on time", T0
        )
        book = await events.book()
    finally:
        await engine.dispose()
    assert book.events["openadr3:e1"].modification_number == MS_REVISION
    assert book.events["http-old"].modification_number == 7


@pytest.mark.parametrize("revision", [0, 2**31 - 1, 2**31, MS_REVISION, 2**63 - 1])
async def test_every_64_bit_revision_round_trips(store_url, revision):
    engine = await open_store(store_url)
    try:
        events = SqlEventStore(engine)
        await events.save(event(revision), "openadr3", T0)
        book = await events.book()
    finally:
        await engine.dispose()
    assert book.events["openadr3:e1"].modification_number == revision


async def test_an_openadr3_event_from_a_vtn_is_stored_with_its_millisecond_revision(
    store_url, tmp_path
):
    """Issue 22 end to end: the VTN's event reaches the store (PostgreSQL too), and a
    restarted intake holds the same revision."""
    vtn = Vtn3(free_port())
    await vtn.up()
    engine = await open_store(store_url)
    now = datetime.now(UTC)
    builder = v2g_pair(now, stay_h=4)
    settings = PlannerSettings(slot_s=300, slots=6, setpoint_valid_s=120)
    aggregator = Aggregator(
        builder.site, CapacityGrid(1e6), RecordingLink(), SystemClock(), settings
    )
    try:
        intake = DemandResponseIntake(aggregator, SqlEventStore(engine))
        async with aiohttp.ClientSession() as session:
            client = Oadr3Client(
                Oadr3Config(vtn.base_url, CLIENT_ID, CLIENT_SECRET), intake, SystemClock(), session
            )
            vtn.event("ms1", "DISPATCH_SETPOINT", -5, now)
            assert await client.poll_once()
        assert "accepted" in client.answers["ms1"], client.answers["ms1"]
        taken = aggregator.state.events.events["openadr3:ms1"]
        assert taken.modification_number > 2**31
        book = await SqlEventStore(engine).book()
        assert book.events["openadr3:ms1"] == taken
        restarted = AggregatorState(events=book)
        assert restarted.events.events["openadr3:ms1"].modification_number == (
            taken.modification_number
        )
    finally:
        aggregator.close()
        await engine.dispose()
        await vtn.down()
