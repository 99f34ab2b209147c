"""The command audit: every write through the operator API, who asked and what came of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import commands
from v2g.store.times import aware


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One command: when, by which token (``actor``, its public id) in which role, the
    command's name and body as received, and the outcome told back to the sender."""

    at: datetime
    actor: str
    role: str
    command: str
    body: dict[str, Any]
    accepted: bool
    outcome: str


class SqlAuditStore:
    """Appends audit entries; never updates or deletes one."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, entry: AuditEntry) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                commands.insert().values(
                    at=entry.at,
                    actor=entry.actor,
                    role=entry.role,
                    command=entry.command,
                    body=entry.body,
                    accepted=entry.accepted,
                    outcome=entry.outcome[:512],
                )
            )

    async def entries(self, limit: int = 100) -> list[AuditEntry]:
        """The latest ``limit`` entries, newest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(commands).order_by(commands.c.id.desc()).limit(limit)
            )
            return [
                AuditEntry(
                    at=aware(row["at"]),
                    actor=row["actor"],
                    role=row["role"],
                    command=row["command"],
                    body=row["body"],
                    accepted=row["accepted"],
                    outcome=row["outcome"],
                )
                for row in rows.mappings()
            ]
