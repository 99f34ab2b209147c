"""Bringing a store made by an older version up to today's schema, at start-up.

``metadata.create_all`` makes missing tables but never changes existing ones; each
change to an existing table is one step here, idempotent, run in the opening
transaction (so a half-migrated store is never seen).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: Columns that were 32-bit integers and hold OpenADR 3 revisions, which are epoch
#: milliseconds (~1.7e12, past 2**31): BIGINT on PostgreSQL. SQLite's INTEGER is
#: already 64-bit, so nothing changes there.
BIGINT_COLUMNS = (
    ("dr_events", "modification_number"),
    ("dr_boundaries", "modification_number"),
    # Row ids of meter values: 1,000 OCPP stations reporting every 10 s pass 2**31
    # within a year (its SERIAL sequence is widened with it).
    ("meter_values", "id"),
)


#: Columns added to existing tables since their first release: (table, column, SQL type).
ADDED_COLUMNS = (
    ("tokens", "driver_id", "VARCHAR(64)"),
    ("sessions", "needs", "JSON"),
    ("sessions", "limits", "JSON"),
)

#: Indexes added after their table existed (``create_all`` makes an index only with
#: its table): name, table, column. Names and columns are constants, never input.
LATE_INDEXES = (("ix_meter_values_at", "meter_values", "at"),)


async def migrate(connection: AsyncConnection) -> list[str]:
    """Apply every step the store still needs; returns what was done (for the log)."""
    done = await _add_columns(connection)
    for name, table, column in LATE_INDEXES:
        # Both SQLite and PostgreSQL know IF NOT EXISTS; nothing happens when present.
        await connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})"))
    if connection.dialect.name != "postgresql":
        return done
    for table, column in BIGINT_COLUMNS:
        found = await connection.execute(
            text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t AND column_name = :c"
            ),
            {"t": table, "c": column},
        )
        if found.scalar_one_or_none() == "integer":
            # Names come from the constant above, never from input.
            await connection.execute(
                text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT")
            )
            sequence = await connection.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}
            )
            serial = sequence.scalar_one_or_none()
            if serial is not None:
                # A quoted, schema-qualified name from PostgreSQL itself.
                await connection.execute(text(f"ALTER SEQUENCE {serial} AS BIGINT"))
            done.append(f"{table}.{column} widened to BIGINT")
    return done


async def _add_columns(connection: AsyncConnection) -> list[str]:
    done = []
    for table, column, sql_type in ADDED_COLUMNS:
        if column not in await _columns(connection, table):
            # Names and types come from the constant above, never from input.
            await connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
            done.append(f"{table}.{column} added")
    return done


async def _columns(connection: AsyncConnection, table: str) -> set[str]:
    if connection.dialect.name == "postgresql":
        found = await connection.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t"
            ),
            {"t": table},
        )
        return {row[0] for row in found}
    found = await connection.execute(text(f"PRAGMA table_info({table})"))
    return {row[1] for row in found}
