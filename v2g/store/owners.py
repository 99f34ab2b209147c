"""Who holds what in a portfolio, in the store: each feeder's shard (written at start
and at a restart), each station's connection (written when it connects, removed
when it goes), and which service instance coordinates the portfolio (a lease, renewed
while it runs), so an operator, or another service instance, sees where things run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import owners
from v2g.store.times import aware

FEEDER, STATION, COORDINATOR = "feeder", "station", "coordinator"


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a feeder (a shard actor) or a station's connection (a service
    instance), on which node and in which process, since when."""

    owner: str
    node: str
    pid: int
    since: datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "owner": self.owner,
            "node": self.node,
            "pid": self.pid,
            "since": self.since.isoformat(),
        }


class SqlOwners:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def hold(self, kind: str, name: str, owner: Owner) -> None:
        """``owner`` holds ``name`` from now (in place of whoever held it)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(owners).where(and_(owners.c.kind == kind, owners.c.name == name))
            )
            await connection.execute(
                owners.insert().values(
                    kind=kind,
                    name=name,
                    owner=owner.owner,
                    node=owner.node,
                    pid=owner.pid,
                    since=owner.since,
                )
            )

    async def claim(self, kind: str, name: str, owner: Owner, stale_before: datetime) -> bool:
        """``owner`` holds ``name`` if no one does, it already does (a renewal: ``since``
        becomes ``owner.since``) or its holder's ``since`` is before ``stale_before``;
        True when it holds it now. Atomic: of two instances claiming at once, one wins
        (the row's lock in PostgreSQL, the one writer in SQLite, the key on insert)."""
        values = {
            "owner": owner.owner,
            "node": owner.node,
            "pid": owner.pid,
            "since": owner.since,
        }
        async with self._engine.begin() as connection:
            taken = await connection.execute(
                update(owners)
                .where(
                    and_(
                        owners.c.kind == kind,
                        owners.c.name == name,
                        or_(owners.c.owner == owner.owner, owners.c.since < stale_before),
                    )
                )
                .values(**values)
            )
        if taken.rowcount:
            return True
        try:
            async with self._engine.begin() as connection:
                await connection.execute(owners.insert().values(kind=kind, name=name, **values))
        except IntegrityError:
            return False  # held, and not stale
        return True

    async def release(self, kind: str, name: str, owner: str) -> None:
        """``owner`` no longer holds ``name`` (kept when another took it meanwhile)."""
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(owners).where(
                    and_(owners.c.kind == kind, owners.c.name == name, owners.c.owner == owner)
                )
            )

    async def forget(self, kind: str) -> int:
        """Every holder of ``kind`` forgotten (no station is connected at start-up)."""
        async with self._engine.begin() as connection:
            done = await connection.execute(delete(owners).where(owners.c.kind == kind))
            return int(done.rowcount or 0)

    async def held(self, kind: str) -> dict[str, Owner]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(owners).where(owners.c.kind == kind))
            return {
                row.name: Owner(row.owner, row.node, row.pid, aware(row.since)) for row in rows
            }
