"""Station credentials: a password shown once, kept as a hash, good for its own station only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from v2g.store import SqlStationStore, StationExists, open_store
from v2g.store.schema import stations

NOW = datetime(2030, 7, 1, tzinfo=UTC)


async def test_a_password_opens_its_own_station_only_and_is_never_stored(store_url: str) -> None:
    engine = await open_store(store_url)
    try:
        store = SqlStationStore(engine)
        first = await store.create("CS-001", NOW)
        second = await store.create("CS-002", NOW)
        assert 16 <= len(first) <= 40  # OCPP's basic-auth password length
        assert await store.verify("CS-001", first)
        assert not await store.verify("CS-001", second)
        assert not await store.verify("CS-003", first)
        assert not await store.verify("CS-001", first + "x")
        async with engine.connect() as connection:
            stored = (await connection.execute(select(stations.c.password_sha256))).scalars()
            assert first not in set(stored)
    finally:
        await engine.dispose()


async def test_registering_a_station_twice_or_a_bad_id_is_refused_and_keeps_the_password(
    store_url: str,
) -> None:
    engine = await open_store(store_url)
    try:
        store = SqlStationStore(engine)
        password = await store.create("CS-001", NOW)
        with pytest.raises(StationExists):
            await store.create("CS-001", NOW)
        for bad in ("", "a/b", "x" * 49, "CS 1"):
            with pytest.raises(ValueError, match="station id"):
                await store.create(bad, NOW)
        assert await store.verify("CS-001", password)
    finally:
        await engine.dispose()
