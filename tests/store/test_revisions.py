"""OpenADR 3 revisions are epoch milliseconds (past 2**31): stored and read back on
both back ends, and a store made when the column was 32-bit is widened at start-up
without losing its rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table
from sqlalchemy.ext.asyncio import create_async_engine

from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.reconcile import Boundary
from v2g.store import SqlEventStore, open_store
from v2g.store.boundaries import SqlBoundaryStore

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
