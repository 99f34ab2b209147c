"""What the CSMS learned of its stations (``v2g.ocpp.records``) in the store: their
state now, connector status history, transactions and each TransactionEvent once.

A TransactionEvent's key is (station, transaction, seqNo): when the row is already
there the event is a replay and changes nothing else either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.ocpp.records import (
    ConnectorStatusChanged,
    OcppRecord,
    OpenTransaction,
    Restored,
    StationBooted,
    StationConnected,
    StationDisconnected,
    TransactionEventRecorded,
)
from v2g.ocpp.station import ENDED_MEMORY
from v2g.store.schema import (
    ocpp_connectors,
    ocpp_evses,
    ocpp_station_states,
    ocpp_status_history,
    ocpp_transaction_events,
    ocpp_transactions,
)
from v2g.store.times import aware


async def _upsert(
    connection: AsyncConnection, table: Table, values: dict[str, Any], changes: Sequence[str]
) -> int:
    """Inserts ``values``; on a key already there updates ``changes`` (none: leaves the
    row). Returns how many rows were inserted or changed."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    keys = [c.name for c in table.primary_key.columns]
    if changes:
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: statement.excluded[c] for c in changes}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    result = await connection.execute(statement)
    return int(result.rowcount)


class SqlStationRecords:
    """Writes station records in order and reads stations, transactions and history."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, records: Sequence[OcppRecord]) -> None:
        """Writes ``records`` in one database transaction. Station states in their
        order; TransactionEvents in bulk (a few statements for any number of them:
        each is a row of its own, and a transaction's row changes only when it starts
        or ends)."""
        events = [r for r in records if isinstance(r, TransactionEventRecorded)]
        async with self._engine.begin() as connection:
            for found in records:
                if not isinstance(found, TransactionEventRecorded):
                    await _write(connection, found)
            if events:
                await _transaction_events(connection, events)

    async def mark_all_offline(self, now: datetime) -> int:
        """At start-up no station is connected yet, whatever the store said."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(ocpp_station_states)
                .where(ocpp_station_states.c.online.is_(True))
                .values(online=False, disconnected_at=now)
            )
        return int(result.rowcount)

    async def restore(self, station_id: str) -> Restored:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ocpp_transactions).where(ocpp_transactions.c.station_id == station_id)
                )
            ).mappings()
            open_rows, ended = [], []
            for row in sorted(rows, key=lambda r: aware(r["started_at"])):
                if row["ended_at"] is None:
                    open_rows.append(row)
                else:
                    ended.append(str(row["transaction_id"]))
            opened = []
            for row in open_rows:
                seq_nos = (
                    await connection.execute(
                        select(ocpp_transaction_events.c.seq_no).where(
                            ocpp_transaction_events.c.station_id == station_id,
                            ocpp_transaction_events.c.transaction_id == row["transaction_id"],
                        )
                    )
                ).scalars()
                opened.append(
                    OpenTransaction(
                        row["transaction_id"],
                        row["ocpp_evse"],
                        row["session_id"],
                        aware(row["started_at"]),
                        row["id_token"],
                        frozenset(int(n) for n in seq_nos),
                    )
                )
        return Restored(tuple(opened), tuple(ended[-ENDED_MEMORY:]))

    # -- reads for the API -------------------------------------------------------

    async def stations(self) -> list[dict[str, Any]]:
        """Every station the CSMS has seen, with its EVSEs and connectors."""
        async with self._engine.connect() as connection:
            states = (
                await connection.execute(
                    select(ocpp_station_states).order_by(ocpp_station_states.c.station_id)
                )
            ).mappings()
            found = {str(s["station_id"]): _station(s) for s in states}
            evses = (await connection.execute(select(ocpp_evses))).mappings()
            for evse in evses:
                if evse["station_id"] in found:
                    found[evse["station_id"]]["evses"][evse["ocpp_evse"]] = _evse(
                        evse["ocpp_evse"], evse["evse_id"]
                    )
            connectors = (await connection.execute(select(ocpp_connectors))).mappings()
            for connector in connectors:
                station = found.get(connector["station_id"])
                if station is None:
                    continue
                evse = station["evses"].setdefault(
                    connector["ocpp_evse"], _evse(connector["ocpp_evse"], None)
                )
                evse["connectors"].append(
                    {
                        "connector_id": connector["connector_id"],
                        "status": connector["status"],
                        "at": aware(connector["at"]),
                    }
                )
        for station in found.values():
            station["evses"] = [station["evses"][n] for n in sorted(station["evses"])]
            for evse in station["evses"]:
                evse["connectors"].sort(key=lambda c: c["connector_id"])
        return list(found.values())

    async def station(self, station_id: str) -> dict[str, Any] | None:
        return next((s for s in await self.stations() if s["station_id"] == station_id), None)

    async def transactions(self, station_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The station's transactions, newest first."""
        events = ocpp_transaction_events.c
        counted = (
            select(
                events.transaction_id,
                func.count().label("events"),
                func.max(events.seq_no).label("last_seq_no"),
            )
            .where(events.station_id == station_id)
            .group_by(events.transaction_id)
            .subquery()
        )
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(ocpp_transactions, counted.c.events, counted.c.last_seq_no)
                .join(
                    counted,
                    counted.c.transaction_id == ocpp_transactions.c.transaction_id,
                    isouter=True,
                )
                .where(ocpp_transactions.c.station_id == station_id)
                .order_by(ocpp_transactions.c.started_at.desc())
                .limit(limit)
            )
            return [_times(dict(row)) for row in rows.mappings()]

    async def transaction_events(
        self, station_id: str, transaction_id: str
    ) -> list[dict[str, Any]]:
        """The TransactionEvents of one transaction, by seqNo."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(ocpp_transaction_events)
                .where(
                    ocpp_transaction_events.c.station_id == station_id,
                    ocpp_transaction_events.c.transaction_id == transaction_id,
                )
                .order_by(ocpp_transaction_events.c.seq_no)
            )
            return [_times(dict(row)) for row in rows.mappings()]

    async def status_history(self, station_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The station's connector status changes, newest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(ocpp_status_history)
                .where(ocpp_status_history.c.station_id == station_id)
                .order_by(ocpp_status_history.c.id.desc())
                .limit(limit)
            )
            return [_times(dict(row)) for row in rows.mappings()]


def _station(row: Any) -> dict[str, Any]:
    station = _times(dict(row))
    station["evses"] = {}
    return station


def _evse(ocpp_evse: int, evse_id: str | None) -> dict[str, Any]:
    return {"ocpp_evse": ocpp_evse, "evse_id": evse_id, "connectors": []}


def _times(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands back naive datetimes: UTC, as stored."""
    return {k: aware(v) if isinstance(v, datetime) else v for k, v in row.items()}


async def _write(connection: AsyncConnection, found: OcppRecord) -> None:
    match found:
        case StationConnected():
            await _upsert(
                connection,
                ocpp_station_states,
                {
                    "station_id": found.station_id,
                    "online": True,
                    "version": str(found.version),
                    "connected_at": found.at,
                },
                ("online", "version", "connected_at"),
            )
        case StationDisconnected():
            await connection.execute(
                update(ocpp_station_states)
                .where(ocpp_station_states.c.station_id == found.station_id)
                .values(online=False, disconnected_at=found.at)
            )
        case StationBooted():
            await _booted(connection, found)
        case ConnectorStatusChanged():
            await _status(connection, found)


async def _booted(connection: AsyncConnection, found: StationBooted) -> None:
    await connection.execute(
        update(ocpp_station_states)
        .where(ocpp_station_states.c.station_id == found.station_id)
        .values(
            vendor_name=found.vendor_name,
            model=found.model,
            serial_number=found.serial_number,
            firmware_version=found.firmware_version,
            boot_reason=found.reason,
            booted_at=found.at,
        )
    )
    for number, evse_id in found.evses:
        await _upsert(
            connection,
            ocpp_evses,
            {"station_id": found.station_id, "ocpp_evse": number, "evse_id": evse_id},
            ("evse_id",),
        )


async def _status(connection: AsyncConnection, found: ConnectorStatusChanged) -> None:
    key = {
        "station_id": found.station_id,
        "ocpp_evse": found.ocpp_evse,
        "connector_id": found.connector_id,
    }
    await connection.execute(
        ocpp_status_history.insert().values(
            **key, status=found.status, at=found.at, received_at=found.received_at
        )
    )
    await _upsert(
        connection,
        ocpp_connectors,
        {**key, "status": found.status, "at": found.at},
        ("status", "at"),
    )


async def _transaction_events(
    connection: AsyncConnection, events: Sequence[TransactionEventRecorded]
) -> None:
    """Each event once (a replay's key is there already: nothing changes); each
    transaction's row made by the first event seen of it, ended by its Ended one."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    keys = ["station_id", "transaction_id", "seq_no"]
    await connection.execute(
        dialect.insert(ocpp_transaction_events).on_conflict_do_nothing(index_elements=keys),
        [
            {
                "station_id": e.station_id,
                "transaction_id": e.transaction_id,
                "seq_no": e.seq_no,
                "event_type": e.event_type,
                "trigger_reason": e.trigger_reason,
                "at": e.at,
                "offline": e.offline,
                "received_at": e.received_at,
            }
            for e in events
        ],
    )
    firsts: dict[tuple[str, str], TransactionEventRecorded] = {}
    for e in events:
        firsts.setdefault((e.station_id, e.transaction_id), e)
    await connection.execute(
        dialect.insert(ocpp_transactions).on_conflict_do_nothing(
            index_elements=["station_id", "transaction_id"]
        ),
        [
            {
                "station_id": e.station_id,
                "transaction_id": e.transaction_id,
                "session_id": e.session_id,
                "ocpp_evse": e.ocpp_evse,
                "evse_id": e.evse_id,
                "id_token": e.id_token,
                "started_at": e.at,
            }
            for e in firsts.values()
        ],
    )
    for e in events:
        if e.event_type == "Ended":
            await connection.execute(
                update(ocpp_transactions)
                .where(
                    ocpp_transactions.c.station_id == e.station_id,
                    ocpp_transactions.c.transaction_id == e.transaction_id,
                    ocpp_transactions.c.ended_at.is_(None),
                )
                .values(ended_at=e.at, stopped_reason=e.stopped_reason)
            )
