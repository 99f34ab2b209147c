"""DR event boundaries in the store: which starts and ends were handled, and how."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.demand_response.reconcile import Boundary
from v2g.store.schema import dr_boundaries


class SqlBoundaryStore:
    """Records each handled boundary once; a second attempt is refused."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def mark(self, boundary: Boundary, how: str, at: datetime) -> bool:
        """Record ``boundary`` as handled; False when it already was (nothing done)."""
        row = {
            "key": boundary.key,
            "event_id": boundary.event_id,
            "modification_number": boundary.modification_number,
            "edge": boundary.edge,
            "at": boundary.at,
            "handled_at": at,
            "how": how,
        }
        try:
            async with self._engine.begin() as connection:
                await connection.execute(dr_boundaries.insert().values(**row))
        except IntegrityError:
            return False
        return True

    async def handled(self) -> frozenset[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(dr_boundaries.c.key))
            return frozenset(str(key) for (key,) in rows)

    async def history(self, event_id: str | None = None) -> list[dict[str, object]]:
        """Handled boundaries, oldest first (for the API and tests)."""
        query = select(dr_boundaries).order_by(dr_boundaries.c.handled_at)
        if event_id is not None:
            query = query.where(dr_boundaries.c.event_id == event_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [dict(row) for row in rows]
