"""DR events in the store: accepted revisions and cancellations survive a restart."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.demand_response import DemandResponseEvent, EventBook, InvalidEvent
from v2g.store.schema import dr_events
from v2g.store.times import aware

logger = logging.getLogger(__name__)

#: How long a DR event is kept after it ended or was cancelled (s): 30 days, enough
#: for M&V and settlement questions; after that a re-sent revision would be news again,
#: for a window that is long past (so it can shape no plan).
KEEP_ENDED_EVENTS_S = 30 * 86_400.0


class SqlEventStore:
    """Keeps the latest accepted revision of each DR event and when it was cancelled,
    until ``keep_ended_s`` seconds after it ended or was cancelled."""

    def __init__(self, engine: AsyncEngine, keep_ended_s: float = KEEP_ENDED_EVENTS_S) -> None:
        if not keep_ended_s > 0:
            raise ValueError(f"keep_ended_s must be > 0 s, got {keep_ended_s}")
        self._engine = engine
        self._keep = timedelta(seconds=keep_ended_s)

    async def prune(self, now: datetime) -> int:
        """Delete events that ended or were cancelled over ``keep_ended_s`` before
        ``now``; returns how many."""
        async with self._engine.begin() as connection:
            return await self._prune(connection, now)

    async def _prune(self, connection: AsyncConnection, now: datetime) -> int:
        before = now - self._keep
        gone = await connection.execute(
            delete(dr_events).where(
                or_(dr_events.c.end < before, dr_events.c.cancelled_at < before)
            )
        )
        return int(gone.rowcount)

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
            # In the same transaction: the event is stored exactly when this succeeds.
            await self._prune(connection, received_at)

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
            try:
                event = DemandResponseEvent(
                    id=row["event_id"],
                    start=aware(row["start"]),
                    end=aware(row["end"]),
                    kind=row["kind"],
                    value_w=row["value_w"],
                    modification_number=row["modification_number"],
                )
            except InvalidEvent as error:
                # Stored before today's checks (an id with a control character): the
                # restart goes on without it rather than not at all.
                logger.error("DR event %r in the store skipped: %s", row["event_id"], error)
                continue
            book, _ = book.accept(event)
            if row["cancelled_at"] is not None:
                cancelled.append(event.id)
        for event_id in cancelled:
            book, _ = book.cancel(event_id)
        return book
