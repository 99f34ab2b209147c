"""Charging sessions and their meter values in the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.session import PowerMeasured, SessionEnded, SessionEvent, SessionStarted
from v2g.store.schema import meter_values, sessions
from v2g.store.times import aware
from v2g.usage import MeterSample, SessionSpan


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

    async def started_at(self, evse_id: str, since: datetime, until: datetime) -> bool:
        """Whether a session started at ``evse_id`` between ``since`` and ``until``
        (a car that came for a booking, not one that was there before it)."""
        spans, _ = await self.usage_records(since, until)
        return any(s.evse_id == evse_id and s.started_at >= since for s in spans)

    async def usage_records(
        self, start: datetime, end: datetime
    ) -> tuple[list[SessionSpan], list[MeterSample]]:
        """The sessions plugged in at some time between ``start`` and ``end``, and their
        meter values up to ``end`` (those before ``start`` too: the one before it holds
        at ``start``)."""
        # SQLite keeps wall times without their zone; the product writes UTC.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        overlapping = sessions.c.started_at < end
        overlapping &= or_(sessions.c.ended_at.is_(None), sessions.c.ended_at > start)
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(sessions).where(overlapping))
            spans = [
                SessionSpan(
                    r["session_id"],
                    r["evse_id"],
                    aware(r["started_at"]),
                    None if r["ended_at"] is None else aware(r["ended_at"]),
                )
                for r in rows.mappings()
            ]
            ids = [span.session_id for span in spans]
            values = await connection.execute(
                select(meter_values.c.session_id, meter_values.c.at, meter_values.c.power_w)
                .where(meter_values.c.session_id.in_(ids), meter_values.c.at < end)
                .order_by(meter_values.c.session_id, meter_values.c.at)
            )
            samples = [MeterSample(v[0], aware(v[1]), float(v[2])) for v in values]
        return spans, samples

    async def samples(self, session_id: str) -> list[MeterSample]:
        """The session's meter values as samples, in time order."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(meter_values.c.at, meter_values.c.power_w)
                .where(meter_values.c.session_id == session_id)
                .order_by(meter_values.c.at, meter_values.c.id)
            )
            return [MeterSample(session_id, aware(at), float(power_w)) for at, power_w in rows]


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
