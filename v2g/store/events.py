"""DR events in the store: accepted revisions and cancellations survive a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.store.schema import dr_events
from v2g.store.times import aware


class SqlEventStore:
    """Keeps the latest accepted revision of each DR event and when it was cancelled."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, event: DemandResponseEvent, channel: str, received_at: datetime) -> None:
        """Store ``event`` (already accepted by the EventBook: a higher revision)."""
        row = {
            "modification_number": event.modification_number,
            "start": event.start,
            "end": event.end,
            "kind": event.kind,
            "value_w": event.value_w,
            "channel": channel,
            "received_at": received_at,
        }
        async with self._engine.begin() as connection:
            found = await connection.execute(
                update(dr_events).where(dr_events.c.event_id == event.id).values(**row)
            )
            if found.rowcount == 0:
                await connection.execute(dr_events.insert().values(event_id=event.id, **row))

    async def cancel(self, event_id: str, at: datetime) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(dr_events).where(dr_events.c.event_id == event_id).values(cancelled_at=at)
            )

    async def book(self) -> EventBook:
        """The EventBook as it stood when the process stopped."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(dr_events))).mappings().all()
        book = EventBook()
        cancelled = []
        for row in rows:
            event = DemandResponseEvent(
                id=row["event_id"],
                start=aware(row["start"]),
                end=aware(row["end"]),
                kind=row["kind"],
                value_w=row["value_w"],
                modification_number=row["modification_number"],
            )
            book, _ = book.accept(event)
            if row["cancelled_at"] is not None:
                cancelled.append(event.id)
        for event_id in cancelled:
            book, _ = book.cancel(event_id)
        return book
