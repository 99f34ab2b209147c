"""Base-load readings in the store: what the base-load forecast learns from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import base_load_readings
from v2g.store.times import aware

#: Moments per DELETE (SQLite takes at most 32,766 parameters in one statement).
CHUNK = 500


class SqlBaseLoadStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, readings: Sequence[tuple[datetime, float]]) -> None:
        """Keeps ``readings`` (at, factor) in one transaction; a reading at a moment
        already stored replaces it."""
        rows = [{"at": at.astimezone(UTC), "factor": factor} for at, factor in readings]
        async with self._engine.begin() as connection:
            for k in range(0, len(rows), CHUNK):
                moments = [r["at"] for r in rows[k : k + CHUNK]]
                await connection.execute(
                    delete(base_load_readings).where(base_load_readings.c.at.in_(moments))
                )
            if rows:
                await connection.execute(base_load_readings.insert(), rows)

    async def since(self, start: datetime) -> list[tuple[datetime, float]]:
        """The readings from ``start`` on, oldest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(base_load_readings.c.at, base_load_readings.c.factor)
                .where(base_load_readings.c.at >= start.astimezone(UTC))
                .order_by(base_load_readings.c.at)
            )
            return [(aware(at), float(factor)) for at, factor in rows.all()]
