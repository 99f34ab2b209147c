"""Drivers on both back ends: authorization decisions with refusals audited, and
bookings that never overlap."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.ext.asyncio import create_async_engine

from v2g.drivers import IdTokenRecord, ReservationRequest
from v2g.store import SqlTokenStore, open_store
from v2g.store.drivers import EvseTaken, SqlDriverStore

NOW = datetime(2030, 7, 1, tzinfo=UTC)


async def test_a_refused_token_is_audited_with_its_reason_and_an_accepted_one_is_not(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlDriverStore(engine)
        await store.create("d-1", "Ada", NOW)
        await store.put_token(IdTokenRecord("ISO14443", "04A1B2C3", "d-1", NOW))
        await store.put_token(IdTokenRecord("ISO14443", "04A1B2C4", "d-1", NOW, blocked=True))
        ok = await store.authorize("ISO14443", "04A1B2C3", NOW, "secc", "E1")
        blocked = await store.authorize("ISO14443", "04A1B2C4", NOW, "secc", "E1")
        unknown = await store.authorize("Central", "nobody", NOW, "ocpp")
        assert (ok.status, blocked.status, unknown.status) == ("Accepted", "Blocked", "Unknown")
        refused = await store.refusals()
        assert [(r["value"], r["status"], r["door"]) for r in refused] == [
            ("nobody", "Unknown", "ocpp"),
            ("04A1B2C4", "Blocked", "secc"),
        ]
        assert "blocked" in refused[1]["reason"]
    finally:
        await engine.dispose()


async def test_every_token_is_read_with_its_driver_for_the_stations_local_lists(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlDriverStore(engine)
        await store.create("d-2", "Bo", NOW)
        await store.create("d-1", "Ada", NOW)
        await store.put_token(IdTokenRecord("MacAddress", "001122334455", "d-2", NOW))
        await store.put_token(IdTokenRecord("ISO14443", "04A1B2C4", "d-1", NOW, blocked=True))
        listed = [
            (r.token_type, r.value, r.driver_id, r.blocked, driver_blocked)
            for r, driver_blocked in await store.all_tokens()
        ]
        assert listed == [
            ("ISO14443", "04A1B2C4", "d-1", True, False),
            ("MacAddress", "001122334455", "d-2", False, False),
        ]
    finally:
        await engine.dispose()


async def test_racing_bookings_of_one_evse_leave_exactly_one(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlDriverStore(engine)
        await store.create("d-1", "Ada", NOW)
        start = NOW + timedelta(hours=1)
        request = ReservationRequest(
            "d-1", "E1", start, start + timedelta(hours=2), start, 1.0, False
        )
        results = await asyncio.gather(
            *(store.book(request, ["E1"], NOW) for _ in range(8)), return_exceptions=True
        )
        assert sum(not isinstance(r, Exception) for r in results) == 1
        assert all(isinstance(r, EvseTaken) for r in results if isinstance(r, Exception))
        assert len(await store.reservations()) == 1
        with pytest.raises(EvseTaken):
            await store.book(request, ["E1"], NOW)
    finally:
        await engine.dispose()


async def test_a_store_whose_tokens_predate_drivers_gains_the_column_and_keeps_its_tokens(
    store_url,
):
    old = create_async_engine(store_url)
    legacy = MetaData()
    Table(
        "tokens",
        legacy,
        Column("token_id", String(32), primary_key=True),
        Column("role", String(32), nullable=False),
        Column("secret_sha256", String(64), nullable=False, unique=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
    )
    async with old.begin() as connection:
        await connection.run_sync(legacy.create_all)
    await old.dispose()
    engine = await open_store(store_url)
    try:
        tokens = SqlTokenStore(engine)
        _, viewer = await tokens.create("viewer", NOW)
        _, driver = await tokens.create("driver", NOW, "d-1")
        assert (await tokens.find(viewer)).driver_id is None
        assert (await tokens.find(driver)).driver_id == "d-1"
    finally:
        await engine.dispose()
    again = await open_store(store_url)  # migrating twice changes nothing
    await again.dispose()
