"""Meter data for M&V: the power samples stored per session (``meter_values``, from
the SECC in process, OCPP stations or any session link) read back by time window, and
the metered M&V results per DR event (``dr_metered``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.demand_response.metering import MeterSample
from v2g.store.schema import dr_metered, meter_values, sessions
from v2g.store.times import aware


class SqlMeterReader:
    """Power samples of every session, by time window (meter = session id)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def samples(
        self, start: datetime, end: datetime, hold_s: float
    ) -> tuple[list[MeterSample], dict[str, datetime]]:
        """The samples that can count in [start, end) (from ``hold_s`` before it, since
        a sample holds that long) and the end of each of their sessions, if ended."""
        since = (start - timedelta(seconds=hold_s)).astimezone(UTC)
        query = (
            select(
                meter_values.c.session_id,
                meter_values.c.at,
                meter_values.c.power_w,
                sessions.c.ended_at,
            )
            .join(sessions, sessions.c.session_id == meter_values.c.session_id)
            .where(meter_values.c.at >= since, meter_values.c.at < end.astimezone(UTC))
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        found = [MeterSample(str(s), aware(at), float(p)) for s, at, p, _ in rows]
        ends = {str(s): aware(ended) for s, _, _, ended in rows if ended is not None}
        return found, ends

    async def has_data(self, start: datetime, end: datetime) -> bool:
        """True when any meter reported within [start, end) (the service was metering)."""
        query = (
            select(meter_values.c.id)
            .where(
                meter_values.c.at >= start.astimezone(UTC),
                meter_values.c.at < end.astimezone(UTC),
            )
            .limit(1)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None


class SqlMeteredStore:
    """The latest metered M&V document per DR event."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, event_id: str, body: dict[str, Any], at: datetime) -> None:
        async with self._engine.begin() as connection:
            found = await connection.execute(
                update(dr_metered)
                .where(dr_metered.c.event_id == event_id)
                .values(body=body, updated_at=at)
            )
            if found.rowcount == 0:
                await connection.execute(
                    dr_metered.insert().values(event_id=event_id, body=body, updated_at=at)
                )

    async def all(self) -> dict[str, dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(select(dr_metered.c.event_id, dr_metered.c.body))
            ).all()
        return {str(event_id): dict(body) for event_id, body in rows}
