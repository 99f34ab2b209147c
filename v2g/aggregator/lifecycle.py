"""DR event lifecycle: each event's start and end recorded once, across restarts (for M&V
and the audit trail).

Waking the control cycle at a boundary is not done here: ``Aggregator.run`` already
sleeps no longer than the next start or end in its event book (``next_wait_s``), in
every deployment, with or without this scheduler; one place wakes the cycle.

Boundaries are APScheduler 3 jobs in UTC in a persistent SQLAlchemy job store (the
same database as the store, table ``dr_schedule``). At start-up the scheduler starts
paused, ``v2g.demand_response.reconcile`` decides against the event windows what to
do with each stored event (resume, handle a missed start once, skip the start of an
event that is over), and only then do jobs run. Every handling is recorded in
``dr_boundaries`` first, so a boundary fired twice (a misfired job and the
reconciliation) acts once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from v2g.aggregator.cycle import Aggregator
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.reconcile import Boundary, Reconciliation, boundaries_of, reconcile
from v2g.store.boundaries import SqlBoundaryStore

logger = logging.getLogger(__name__)

BoundarySink = Callable[[Boundary], None]


def boundary_reached(key: str) -> str:
    """The job every boundary runs: it only names itself. APScheduler persists jobs
    as a reference to a module-level function, so the work happens in the listener,
    which holds the live aggregator."""
    return key


def job_store_url(store_url: str) -> str:
    """The synchronous URL APScheduler's job store needs for the store's async URL."""
    if store_url.startswith("sqlite+aiosqlite:"):
        return "sqlite:" + store_url.removeprefix("sqlite+aiosqlite:")
    if store_url.startswith("postgresql+asyncpg:"):
        return "postgresql:" + store_url.removeprefix("postgresql+asyncpg:")
    return store_url


class EventLifecycle:
    """Schedules and handles the boundaries of accepted DR events."""

    def __init__(
        self,
        aggregator: Aggregator,
        boundaries: SqlBoundaryStore,
        scheduler_url: str,
    ) -> None:
        self._aggregator = aggregator
        self._boundaries = boundaries
        self._events: dict[str, DemandResponseEvent] = {}
        self._sinks: list[BoundarySink] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            jobstores={"default": SQLAlchemyJobStore(url=scheduler_url, tablename="dr_schedule")},
            # A boundary is worth acting on however late (the listener decides what a
            # late one means); several missed runs of one job are one.
            job_defaults={"coalesce": True, "misfire_grace_time": None},
        )
        self._scheduler.add_listener(self._on_job, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        self.last: Reconciliation | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, sink: BoundarySink) -> None:
        """``sink`` hears every boundary handled (for M&V and tests)."""
        self._sinks.append(sink)

    async def start(self) -> Reconciliation:
        """Reconcile the stored events against their windows, then run the scheduler."""
        self._loop = asyncio.get_running_loop()
        self._scheduler.start(paused=True)
        now = self._aggregator.clock.now()
        book = self._aggregator.state.events
        self._events = dict(book.events)
        decision = reconcile(book, await self._boundaries.handled(), now)
        wanted = {b.key for b in decision.schedule}
        for job in self._scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for boundary in decision.schedule:
            self._add_job(boundary)
        for boundary in decision.skip:
            await self._boundaries.mark(boundary, "skipped: the event ended while down", now)
        for boundary in decision.handle:
            await self._handle(boundary, "missed while down, handled at start-up")
        if decision.resumed:
            logger.info("DR events resumed after start-up: %s", ", ".join(decision.resumed))
        self._scheduler.resume()
        self.last = decision
        return decision

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def schedule(self, event: DemandResponseEvent) -> None:
        """Schedule ``event``'s boundaries (replacing an older revision's)."""
        self.unschedule(event.id)
        self._events[event.id] = event
        now = self._aggregator.clock.now()
        for boundary in boundaries_of(event):
            if boundary.at > now:
                self._add_job(boundary)
            elif boundary.edge == "start" and event.end > now:
                # Accepted while already running: its start is now.
                await self._handle(boundary, "started on arrival")

    def unschedule(self, event_id: str) -> None:
        """Drop ``event_id``'s pending boundaries (a cancellation or a new revision)."""
        self._events.pop(event_id, None)
        prefix = f"dr:{event_id}:"
        for job in self._scheduler.get_jobs():
            if job.id.startswith(prefix):
                job.remove()

    def pending(self) -> list[str]:
        """Keys of the scheduled boundaries (persistent across restarts)."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    def _add_job(self, boundary: Boundary) -> None:
        self._scheduler.add_job(
            boundary_reached,
            trigger="date",
            run_date=boundary.at,
            args=[boundary.key],
            id=boundary.key,
            replace_existing=True,
        )

    def _on_job(self, job_event: JobEvent) -> None:
        boundary = self._boundary(job_event.job_id)
        if boundary is None:
            return
        how = "on time" if job_event.code == EVENT_JOB_EXECUTED else "late (missed run)"
        # Listeners may run on an executor thread: hand the work to the event loop.
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._spawn, boundary, how)

    def _spawn(self, boundary: Boundary, how: str) -> None:
        task = asyncio.get_running_loop().create_task(self._handle(boundary, how))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _boundary(self, key: str) -> Boundary | None:
        event_id, revision, edge = key.removeprefix("dr:").rsplit(":", 2)
        event = self._events.get(event_id)
        if event is None or str(event.modification_number) != revision:
            return None  # cancelled or replaced since the job was set
        return next(b for b in boundaries_of(event) if b.edge == edge)

    async def _handle(self, boundary: Boundary, how: str) -> None:
        if not await self._boundaries.mark(boundary, how, self._aggregator.clock.now()):
            return
        logger.info(
            "DR %s %s of %s rev %s",
            how,
            boundary.edge,
            boundary.event_id,
            boundary.modification_number,
        )
        for sink in self._sinks:
            try:
                sink(boundary)
            except Exception:
                logger.exception("boundary subscriber failed")
