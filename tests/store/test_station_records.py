"""What the CSMS records of its stations, on SQLite and PostgreSQL: state, connectors,
status history, transactions and TransactionEvents, each once; read back after a
restart; meter value ids past 32 bits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.records import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionEventRecorded,
)
from v2g.session import PowerMeasured, SessionStarted
from v2g.store import SqlSessionStore, open_store
from v2g.store.schema import meter_values, ocpp_status_history, ocpp_transaction_events
from v2g.store.station_records import SqlStationRecords

T0 = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)


def event(seq_no: int, kind: str = "Updated", transaction_id: str = "tx-1", **more):
    return TransactionEventRecorded(
        station_id="CS-1",
        transaction_id=transaction_id,
        session_id=f"CS-1/{transaction_id}",
        ocpp_evse=1,
        evse_id="E1",
        seq_no=seq_no,
        event_type=kind,
        trigger_reason="MeterValuePeriodic" if kind == "Updated" else "CablePluggedIn",
        at=T0 + timedelta(seconds=10 * min(seq_no, 1000)),
        offline=more.get("offline", False),
        id_token=more.get("id_token"),
        stopped_reason=more.get("stopped_reason"),
        received_at=T0 + timedelta(seconds=10 * min(seq_no, 1000)),
    )


def booted() -> list:
    return [
        StationConnected("CS-1", OcppVersion.V21, T0),
        StationBooted("CS-1", T0, "PowerUp", "v2g", "secc", "SN-1", "1.0", ((1, "E1"),)),
        ConnectorStatusChanged("CS-1", 1, 1, "Available", T0, T0),
        ConnectorStatusChanged("CS-1", 1, 1, "Occupied", T0 + timedelta(seconds=5), T0),
    ]


async def test_a_station_shows_online_with_its_evses_and_connector_states(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlStationRecords(engine)
        await store.record(booted())
        (station,) = await store.stations()
        assert station["online"] is True
        assert (station["version"], station["vendor_name"], station["model"]) == (
            "ocpp2.1",
            "v2g",
            "secc",
        )
        (evse,) = station["evses"]
        assert evse["evse_id"] == "E1"
        assert [(c["connector_id"], c["status"]) for c in evse["connectors"]] == [(1, "Occupied")]
        history = await store.status_history("CS-1")
        assert [h["status"] for h in history] == ["Occupied", "Available"]  # newest first
        await store.record([StationDisconnected("CS-1", T0 + timedelta(minutes=1))])
        station = await store.station("CS-1")
        assert station is not None
        assert station["online"] is False
        assert station["disconnected_at"] == T0 + timedelta(minutes=1)
    finally:
        await engine.dispose()


async def test_a_replayed_transaction_event_is_stored_once(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlStationRecords(engine)
        await store.record([*booted(), event(0, "Started", id_token="tok"), event(1)])
        await store.record([event(1), event(0, "Started", id_token="tok")])  # a replay
        await store.record([event(2, "Ended", stopped_reason="EVDisconnected")])
        await store.record([event(2, "Ended", stopped_reason="EVDisconnected")])
        (transaction,) = await store.transactions("CS-1")
        assert transaction["events"] == 3
        assert transaction["last_seq_no"] == 2
        assert transaction["id_token"] == "tok"
        assert transaction["started_at"] == T0
        assert transaction["ended_at"] == T0 + timedelta(seconds=20)
        assert transaction["stopped_reason"] == "EVDisconnected"
        events = await store.transaction_events("CS-1", "tx-1")
        assert [e["seq_no"] for e in events] == [0, 1, 2]
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(func.count()).select_from(ocpp_transaction_events)
            )
            assert rows.scalar() == 3
    finally:
        await engine.dispose()


async def test_after_a_restart_open_transactions_and_their_seq_nos_are_read_back(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlStationRecords(engine)
        await store.record(
            [
                event(0, "Started", "tx-old"),
                event(1, "Ended", "tx-old", stopped_reason="Local"),
                event(0, "Started", "tx-new", id_token="tok"),
                event(2, "Updated", "tx-new"),
                event(2**40, "Updated", "tx-new"),  # seqNo has no upper bound: 64-bit
            ]
        )
        restored = await store.restore("CS-1")
        assert restored.ended == ("tx-old",)
        (opened,) = restored.open
        assert (opened.transaction_id, opened.ocpp_evse, opened.session_id) == (
            "tx-new",
            1,
            "CS-1/tx-new",
        )
        assert opened.seq_nos == {0, 2, 2**40}
        assert opened.id_token == "tok"
        assert (await store.restore("CS-2")).open == ()
    finally:
        await engine.dispose()


async def test_at_start_up_every_station_is_offline_until_it_reconnects(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlStationRecords(engine)
        await store.record(booted())
        assert await store.mark_all_offline(T0 + timedelta(hours=1)) == 1
        (station,) = await store.stations()
        assert station["online"] is False
        assert await store.mark_all_offline(T0 + timedelta(hours=1)) == 0
    finally:
        await engine.dispose()


async def test_meter_value_and_status_ids_go_past_32_bits(store_url):
    engine = await open_store(store_url)
    try:
        sessions = SqlSessionStore(engine)
        await sessions.record(SessionStarted("E1", "s1", T0, None, "ocpp2.1"))
        async with engine.begin() as connection:
            await connection.execute(
                meter_values.insert().values(id=2**31 + 5, session_id="s1", at=T0, power_w=1.0)
            )
            await connection.execute(
                ocpp_status_history.insert().values(
                    id=2**40,
                    station_id="CS-1",
                    ocpp_evse=1,
                    connector_id=1,
                    status="Available",
                    at=T0,
                    received_at=T0,
                )
            )
        if engine.dialect.name == "postgresql":
            # The sequences go on from what was taken (SQLite's rowid does that by itself).
            async with engine.begin() as connection:
                for table in ("meter_values", "ocpp_status_history"):
                    await connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        await sessions.record(PowerMeasured("E1", "s1", T0, 2.0, None))
        await SqlStationRecords(engine).record(
            [ConnectorStatusChanged("CS-1", 1, 1, "Faulted", T0, T0)]
        )
        assert [v["id"] for v in await sessions.meter_values("s1")][-1] == 2**31 + 6
        assert (await SqlStationRecords(engine).status_history("CS-1"))[0]["id"] == 2**40 + 1
    finally:
        await engine.dispose()


async def test_a_store_with_32_bit_meter_value_ids_is_widened_and_keeps_its_rows(store_url):
    legacy = MetaData()
    Table(
        "sessions",
        legacy,
        Column("session_id", String(128), primary_key=True),
        Column("evse_id", String(128), nullable=False),
        Column("ev_id", String(128)),
        Column("protocol", String(64)),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("ended_at", DateTime(timezone=True)),
        Column("end_reason", String(256)),
    )
    Table(
        "meter_values",
        legacy,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("session_id", String(128), nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("power_w", Float, nullable=False),
        Column("soc_percent", Float),
    )
    old = create_async_engine(store_url)
    async with old.begin() as connection:
        await connection.run_sync(legacy.create_all)
        await connection.execute(
            legacy.tables["sessions"].insert().values(session_id="s1", evse_id="E1", started_at=T0)
        )
        await connection.execute(
            legacy.tables["meter_values"].insert().values(session_id="s1", at=T0, power_w=7.0)
        )
    await old.dispose()
    engine = await open_store(store_url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('meter_values', 'id'), 3000000000)"
                )
        sessions = SqlSessionStore(engine)
        await sessions.record(PowerMeasured("E1", "s1", T0, 8.0, None))
        values = await sessions.meter_values("s1")
        assert [v["power_w"] for v in values] == [7.0, 8.0]
        assert values[-1]["id"] > 2**31 or engine.dialect.name == "sqlite"
    finally:
        await engine.dispose()
