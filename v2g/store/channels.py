"""Which stored DR events came through a given channel (a channel resuming after a
restart needs to know what it had handed in)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import dr_events


async def event_ids_from(engine: AsyncEngine, channel: str) -> list[str]:
    """Ids of the accepted, not cancelled DR events received through ``channel``."""
    query = select(dr_events.c.event_id).where(
        dr_events.c.channel == channel, dr_events.c.cancelled_at.is_(None)
    )
    async with engine.connect() as connection:
        return sorted(str(event_id) for (event_id,) in await connection.execute(query))
