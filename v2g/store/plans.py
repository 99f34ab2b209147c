"""Dispatch plans in the store, with their setpoints and binding limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.dispatch import DispatchPlan
from v2g.store.schema import plans


class SqlPlanStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, plan: DispatchPlan) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                plans.insert().values(
                    created_at=plan.created_at,
                    strategy=plan.strategy,
                    grid_ok=None if plan.verdict is None else plan.verdict.ok,
                    body=plan.as_dict(),
                )
            )

    async def latest(self, limit: int = 10) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(plans.c.body).order_by(plans.c.id.desc()).limit(limit)
            )
            return [row[0] for row in rows]
