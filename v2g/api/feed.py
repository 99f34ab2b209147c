"""The published snapshots as the API serves them: JSON rendered once per snapshot
(not once per request), a short grid history, and the WebSocket subscribers.

The feeder profile (one AC power flow per snapshot) never runs on the event loop: the
snapshot subscriber is called from the control cycle on the loop that also answers the
vehicles when the SECC runs in process. The profile is computed in a worker thread and
the view is rendered again when it is ready; until then the grid resource shows the
last profile computed (None before the first).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from v2g.aggregator import Snapshot
from v2g.api.documents import (
    Measured,
    Metered,
    events_document,
    grid_document,
    plan_document,
)

logger = logging.getLogger(__name__)

Profile = Callable[[Snapshot], dict[str, Any] | None]

#: Grid verdicts kept for the dashboard's loading and voltage chart.
GRID_HISTORY = 288


@dataclass(frozen=True)
class View:
    """One snapshot rendered for the wire: each resource's JSON bytes, and the same
    documents as one WebSocket message."""

    cycle: int
    fleet: bytes
    fleet_rows: dict[str, bytes]
    plan: bytes
    envelope: bytes
    grid: bytes
    message: str


def _dumps(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class SnapshotFeed:
    """Receives every published snapshot (an ``Aggregator.subscribe`` sink), keeps the
    latest view and fans it out to WebSocket subscribers. A slow subscriber only ever
    misses intermediate snapshots, never holds the aggregator up."""

    def __init__(
        self,
        network: str,
        profile: Profile | None = None,
        measured: Measured | None = None,
        metered: Metered | None = None,
    ) -> None:
        self.network = network
        self._measured = measured
        self._metered = metered
        self._profile_of = profile
        self._profile: dict[str, Any] | None = None
        self._profiling: asyncio.Future[dict[str, Any] | None] | None = None
        self._waiting: Snapshot | None = None
        # One thread: one power flow at a time, created on the first profile.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feeder profile")
        self._latest: Snapshot | None = None
        self._view: View | None = None
        self._history: deque[dict[str, Any]] = deque(maxlen=GRID_HISTORY)
        self._queues: set[asyncio.Queue[str]] = set()

    @property
    def view(self) -> View | None:
        return self._view

    def publish(self, snapshot: Snapshot) -> None:
        """Render ``snapshot`` now (with the last profile) and start its profile."""
        plan = plan_document(snapshot)
        if plan is not None and plan["grid"] is not None:
            self._history.append({"at": snapshot.at.isoformat(), **plan["grid"]})
        self._latest = snapshot
        self._render(snapshot)
        if self._profile_of is not None:
            self._profile_later(snapshot)

    async def settled(self) -> None:
        """Wait until the latest snapshot's profile is in the view (for tests and a
        clean shutdown)."""
        while self._profiling is not None and not self._profiling.done():
            await asyncio.wait({self._profiling})

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _profile_later(self, snapshot: Snapshot) -> None:
        assert self._profile_of is not None
        if self._profiling is not None and not self._profiling.done():
            self._waiting = snapshot  # only the latest matters
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to keep free: compute here
            self._profile = self._safe_profile(snapshot)
            self._render(snapshot)
            return
        self._profiling = loop.run_in_executor(self._worker, self._safe_profile, snapshot)
        self._profiling.add_done_callback(partial(self._profiled, snapshot))

    def _safe_profile(self, snapshot: Snapshot) -> dict[str, Any] | None:
        assert self._profile_of is not None
        try:
            return self._profile_of(snapshot)
        except Exception:  # a failed power flow must not stop the feed
            logger.exception("feeder profile failed")
            return None

    def _profiled(self, snapshot: Snapshot, future: asyncio.Future[dict[str, Any] | None]) -> None:
        if future.cancelled():
            return
        self._profile = future.result()
        if self._latest is snapshot:
            self._render(snapshot)
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            self._profile_later(waiting)

    def _render(self, snapshot: Snapshot) -> None:
        plan = plan_document(snapshot)
        fleet = snapshot.fleet_view()
        envelope = None if snapshot.plan is None else snapshot.plan.envelope.as_dict()
        grid = grid_document(snapshot, self.network, list(self._history))
        if self._profile_of is not None:
            grid["profile"] = self._profile
        fleet_document = {"at": snapshot.at.isoformat(), "vehicles": fleet}
        message = json.dumps(
            {
                "type": "snapshot",
                "at": snapshot.at.isoformat(),
                "cycle": snapshot.cycle,
                "fleet": fleet,
                "plan": plan,
                "envelope": envelope,
                "grid": grid,
                "dr_events": events_document(snapshot, self._measured, self._metered),
            },
            separators=(",", ":"),
        )
        self._view = View(
            cycle=snapshot.cycle,
            fleet=_dumps(fleet_document),
            fleet_rows={row["evse_id"]: _dumps(row) for row in fleet},
            plan=_dumps(plan),
            envelope=_dumps(envelope),
            grid=_dumps(grid),
            message=message,
        )
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()  # drop the stale one: only the latest matters
            queue.put_nowait(message)

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        if self._view is not None:
            queue.put_nowait(self._view.message)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._queues.discard(queue)
