"""Charging sessions and their meter values in the store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.session import PowerMeasured, SessionEnded, SessionEvent, SessionStarted
from v2g.store.schema import meter_values, sessions


class SqlSessionStore:
    """Records session starts, ends and measured power as the SECC reports them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, event: SessionEvent) -> None:
        """Keep what matters of ``event`` (needs and limits live in the fleet only)."""
        await self.record_all([event])

    async def record_all(self, events: Sequence[SessionEvent]) -> None:
        """Keep ``events`` in their order, in one database transaction."""
        async with self._engine.begin() as connection:
            measured: list[dict[str, Any]] = []
            for event in events:
                if isinstance(event, PowerMeasured):
                    # Runs of meter values go in one statement (after their session).
                    measured.append(
                        {
                            "session_id": event.session_id,
                            "at": event.at,
                            "power_w": event.power_w,
                            "soc_percent": event.soc_percent,
                        }
                    )
                    continue
                if measured:
                    await connection.execute(meter_values.insert(), measured)
                    measured = []
                await _record(connection, event)
            if measured:
                await connection.execute(meter_values.insert(), measured)

    async def sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(sessions).order_by(sessions.c.started_at.desc()).limit(limit)
            )
            return [dict(row) for row in rows.mappings()]

    async def session(self, session_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(sessions).where(sessions.c.session_id == session_id)
                )
            ).first()
            return None if row is None else dict(row._mapping)

    async def meter_values(self, session_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(meter_values)
                .where(meter_values.c.session_id == session_id)
                .order_by(meter_values.c.at)
            )
            return [dict(row) for row in rows.mappings()]


async def _record(connection: AsyncConnection, event: SessionEvent) -> None:
    if isinstance(event, SessionStarted):
        known = await connection.execute(
            select(sessions.c.session_id).where(sessions.c.session_id == event.session_id)
        )
        if known.first() is not None:
            # Told again (an OCPP CSMS restarted and restored it): kept once.
            return
        await connection.execute(
            sessions.insert().values(
                session_id=event.session_id,
                evse_id=event.evse_id,
                ev_id=event.ev_id,
                protocol=event.protocol,
                started_at=event.at,
            )
        )
    elif isinstance(event, SessionEnded):
        await connection.execute(
            update(sessions)
            .where(sessions.c.session_id == event.session_id)
            .values(ended_at=event.at, end_reason=event.reason)
        )
    elif isinstance(event, PowerMeasured):
        await connection.execute(
            meter_values.insert().values(
                session_id=event.session_id,
                at=event.at,
                power_w=event.power_w,
                soc_percent=event.soc_percent,
            )
        )
