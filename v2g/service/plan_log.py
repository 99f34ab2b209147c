"""Every published plan goes to the store, in order, without holding up the cycle."""

from __future__ import annotations

import asyncio
import logging

from v2g.aggregator import Snapshot
from v2g.dispatch import DispatchPlan
from v2g.store import SqlPlanStore
from v2g.store.plans import PlanRecord

logger = logging.getLogger(__name__)


class PlanLog:
    """An ``Aggregator.subscribe`` sink (``publish``; or ``put`` for a portfolio's
    cycles): queues each new plan and writes it from a background task (``run``);
    ``flush`` waits until everything queued is stored."""

    def __init__(self, store: SqlPlanStore) -> None:
        self._store = store
        self._queue: asyncio.Queue[DispatchPlan | PlanRecord] = asyncio.Queue()
        self._last: DispatchPlan | None = None
        self.saved = 0

    def publish(self, snapshot: Snapshot) -> None:
        # A late or failed cycle republishes the last plan: store each plan once.
        if snapshot.plan is not None and snapshot.plan is not self._last:
            self._last = snapshot.plan
            self._queue.put_nowait(snapshot.plan)

    def put(self, record: PlanRecord) -> None:
        self._queue.put_nowait(record)

    async def run(self) -> None:
        while True:
            plan = await self._queue.get()
            try:
                await self._store.save(plan)
                self.saved += 1
            except Exception:
                logger.exception("could not store the plan of %s", plan.created_at.isoformat())
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        await self._queue.join()
