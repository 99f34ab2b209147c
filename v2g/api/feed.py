"""The published snapshots as the API serves them: JSON rendered once per snapshot
(not once per request), a short grid history, and the WebSocket subscribers."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from v2g.aggregator import Snapshot
from v2g.api.documents import events_document, grid_document, plan_document

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
        profile: Callable[[Snapshot], dict[str, Any] | None] | None = None,
    ) -> None:
        self.network = network
        self._profile = profile
        self._view: View | None = None
        self._history: deque[dict[str, Any]] = deque(maxlen=GRID_HISTORY)
        self._queues: set[asyncio.Queue[str]] = set()

    @property
    def view(self) -> View | None:
        return self._view

    def publish(self, snapshot: Snapshot) -> None:
        plan = plan_document(snapshot)
        if plan is not None and plan["grid"] is not None:
            self._history.append({"at": snapshot.at.isoformat(), **plan["grid"]})
        fleet = snapshot.fleet_view()
        envelope = None if snapshot.plan is None else snapshot.plan.envelope.as_dict()
        grid = grid_document(snapshot, self.network, list(self._history))
        if self._profile is not None:
            grid["profile"] = self._profile(snapshot)
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
                "dr_events": events_document(snapshot),
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
