"""Dispatch plans in the store, with their setpoints and binding limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.dispatch import DispatchPlan
from v2g.store.schema import plans

#: Plans kept by default: about a week at one plan a minute.
KEEP_PLAN_ROWS = 10_000


class SqlPlanStore:
    """The newest ``keep_rows`` plans (older ones are deleted as new ones arrive)."""

    def __init__(self, engine: AsyncEngine, keep_rows: int = KEEP_PLAN_ROWS) -> None:
        if keep_rows < 1:
            raise ValueError(f"keep at least one plan, got keep_rows={keep_rows}")
        self._engine = engine
        self._keep_rows = keep_rows

    async def save(self, plan: DispatchPlan) -> None:
        async with self._engine.begin() as connection:
            inserted = await connection.execute(
                plans.insert().values(
                    created_at=plan.created_at,
                    strategy=plan.strategy,
                    grid_ok=None if plan.verdict is None else plan.verdict.ok,
                    body=plan.as_dict(),
                )
            )
            key = inserted.inserted_primary_key
            assert key is not None  # an insert into a table with a primary key
            await connection.execute(delete(plans).where(plans.c.id <= key[0] - self._keep_rows))

    async def count(self) -> int:
        async with self._engine.connect() as connection:
            return int(
                (await connection.execute(select(func.count()).select_from(plans))).scalar_one()
            )

    async def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(plans.c.body).order_by(plans.c.id.desc()).limit(limit)
            )
            return [row[0] for row in rows]
