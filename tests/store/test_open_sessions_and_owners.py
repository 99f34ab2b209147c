"""What a restarted portfolio shard reads back (the open sessions, with their last
limits and needs) and who holds what, on both back ends; an older store gets the new
columns at start."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import inspect

from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    TransferLimits,
)
from v2g.store import SqlSessionStore, open_store, sqlite_url
from v2g.store.owners import FEEDER, STATION, Owner, SqlOwners

T0 = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
LIMITS = TransferLimits(11000.0, discharge=DischargeLimits(11000.0))
OLD_NEEDS = ChargeNeeds(T0, departure=T0 + timedelta(hours=8), soc_percent=40.0)
NEEDS = ChargeNeeds(T0 + timedelta(minutes=5), T0 + timedelta(hours=9), 42.0, 30.0, 80.0)


async def test_open_sessions_come_back_with_their_last_limits_needs_and_meter_value(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlSessionStore(engine)
        await store.record_all(
            [
                SessionStarted("E1", "s1", T0, "EV-1", "ocpp2.1"),
                LimitsReported("E1", "s1", T0, LIMITS),
                NeedsReported("E1", "s1", T0, OLD_NEEDS),
                NeedsReported("E1", "s1", NEEDS.reported_at, NEEDS),
                PowerMeasured("E1", "s1", T0 + timedelta(minutes=1), 7000.0, 41.0),
                PowerMeasured("E1", "s1", T0 + timedelta(minutes=2), 6500.0, 41.5),
                SessionStarted("E2", "s2", T0, None, "iso15118-2"),
                SessionEnded("E2", "s2", T0 + timedelta(hours=1), "unplugged"),
                SessionStarted("E9", "s9", T0, None, "din"),  # not asked for
            ]
        )
        found = await store.open_sessions(["E1", "E2"])
    finally:
        await engine.dispose()
    assert found == [
        SessionStarted("E1", "s1", T0, "EV-1", "ocpp2.1"),
        LimitsReported("E1", "s1", T0, LIMITS),
        NeedsReported("E1", "s1", NEEDS.reported_at, NEEDS),
        PowerMeasured("E1", "s1", T0 + timedelta(minutes=2), 6500.0, 41.5),
    ]


async def test_a_holder_is_replaced_and_released_only_by_itself(store_url):
    engine = await open_store(store_url)
    try:
        owners = SqlOwners(engine)
        await owners.hold(FEEDER, "lv", Owner("shard-0", "node-a", 11, T0))
        await owners.hold(FEEDER, "lv", Owner("shard-0", "node-b", 12, T0 + timedelta(1)))
        await owners.hold(STATION, "CS-1", Owner("serve@a:1", "a", 1, T0))
        await owners.release(STATION, "CS-1", "serve@b:2")  # not its holder: kept
        kept = await owners.held(STATION)
        await owners.release(STATION, "CS-1", "serve@a:1")
        feeders, stations = await owners.held(FEEDER), await owners.held(STATION)
    finally:
        await engine.dispose()
    assert feeders == {"lv": Owner("shard-0", "node-b", 12, T0 + timedelta(1))}
    assert list(kept) == ["CS-1"] and stations == {}


async def test_an_older_store_gets_the_session_needs_and_limits_columns(tmp_path: Path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sessions (session_id VARCHAR(128) PRIMARY KEY, evse_id VARCHAR(128) "
            "NOT NULL, ev_id VARCHAR(128), protocol VARCHAR(64), started_at DATETIME NOT NULL, "
            "ended_at DATETIME, end_reason VARCHAR(256))"
        )
        db.execute(
            "INSERT INTO sessions VALUES ('s1', 'E1', NULL, 'din', '2026-07-01', NULL, NULL)"
        )
    engine = await open_store(sqlite_url(path))
    try:
        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("sessions")}
            )
        found = await SqlSessionStore(engine).open_sessions(["E1"])
    finally:
        await engine.dispose()
    assert {"needs", "limits"} <= columns
    assert [type(e).__name__ for e in found] == ["SessionStarted"]
