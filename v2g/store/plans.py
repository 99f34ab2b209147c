"""Dispatch plans in the store, with their setpoints and binding limits (and a
portfolio's cycles, as the same rows)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.dispatch import DispatchPlan
from v2g.store.schema import plans

#: Plans kept by default: about a week at one plan a minute.
KEEP_PLAN_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A plan as a row: a site's dispatch plan, or a portfolio's cycle (each feeder's
    summary and each event's split)."""

    created_at: datetime
    strategy: str
    grid_ok: bool | None
    body: Mapping[str, Any]

    @classmethod
    def of(cls, plan: DispatchPlan) -> PlanRecord:
        ok = None if plan.verdict is None else plan.verdict.ok
        return cls(plan.created_at, plan.strategy, ok, plan.as_dict())


class SqlPlanStore:
    """The newest ``keep_rows`` plans (older ones are deleted as new ones arrive)."""

    def __init__(self, engine: AsyncEngine, keep_rows: int = KEEP_PLAN_ROWS) -> None:
        if keep_rows < 1:
            raise ValueError(f"keep at least one plan, got keep_rows={keep_rows}")
        self._engine = engine
        self._keep_rows = keep_rows

    async def save(self, plan: DispatchPlan | PlanRecord) -> None:
        record = plan if isinstance(plan, PlanRecord) else PlanRecord.of(plan)
        async with self._engine.begin() as connection:
            inserted = await connection.execute(
                plans.insert().values(
                    created_at=record.created_at,
                    strategy=record.strategy,
                    grid_ok=record.grid_ok,
                    body=record.body,
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
