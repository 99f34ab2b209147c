"""M&V ledger: follows the aggregator's snapshots and keeps, per DR event, the energy
asked and delivered against the baseline (arithmetic in
``v2g.demand_response.measurement``), in memory for the API and in the store."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.snapshot import Snapshot
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.measurement import Measurement, close, observe, start
from v2g.store.measurements import SqlMeasurementStore

logger = logging.getLogger(__name__)


class MeasurementLedger:
    """Per-event measurements, updated after every control cycle."""

    def __init__(self, aggregator: Aggregator, store: SqlMeasurementStore | None = None) -> None:
        self._store = store
        self._measurements: dict[str, Measurement] = {}
        self._events: dict[str, DemandResponseEvent] = {}
        self._closed: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        aggregator.subscribe(self.observe)

    async def restore(self) -> None:
        """Go on from the measurements stored before a restart."""
        if self._store is None:
            return
        for measurement in await self._store.all():
            self._measurements.setdefault(measurement.event_id, measurement)

    def get(self, event_id: str) -> Measurement | None:
        return self._measurements.get(event_id)

    def all(self) -> list[Measurement]:
        return sorted(self._measurements.values(), key=lambda m: m.event_id)

    def observe(self, snapshot: Snapshot) -> None:
        """Fold one cycle's snapshot into every measurement it concerns."""
        plan = snapshot.plan
        if plan is None:
            return
        at = snapshot.at
        baseline = None if plan.baseline_w is None else float(plan.baseline_w[0])
        power = plan.power_now_w
        live = snapshot.state.events.events
        changed: list[Measurement] = []
        for event_id, previous in list(self._events.items()):
            current = live.get(event_id)
            if event_id in self._closed or current == previous:
                continue
            # Cancelled or replaced: the old revision counts up to now.
            self._measurements[event_id] = close(self._measurements[event_id], previous, at)
            del self._events[event_id]
            changed.append(self._measurements[event_id])
        for event in live.values():
            if event.id in self._closed or not (event.start <= at):
                continue
            known = self._measurements.get(event.id)
            if known is None:
                if not event.active_at(at):
                    continue  # ended before it was ever observed
                known = start(event)
            elif event.id not in self._events:
                known = _carry(known, event)
            self._events[event.id] = event
            updated = observe(known, event, at, power, baseline)
            self._measurements[event.id] = updated
            changed.append(updated)
            if at >= event.end:
                self._closed.add(event.id)
        self._persist(changed, at)

    def _persist(self, changed: list[Measurement], at: datetime) -> None:
        if self._store is None or not changed:
            return
        task = asyncio.get_running_loop().create_task(self._save(changed, at))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save(self, changed: list[Measurement], at: datetime) -> None:
        assert self._store is not None
        try:
            for measurement in changed:
                await self._store.save(measurement, at)
        except Exception:
            logger.exception("storing DR measurements failed")

    async def flush(self) -> None:
        """Wait until every measurement is stored."""
        if self._tasks:
            await asyncio.gather(*self._tasks)


def _carry(measurement: Measurement, event: DemandResponseEvent) -> Measurement:
    """A measurement continuing under ``event``'s revision and kind (a modification,
    or the first observation after a restart). Nothing counts as delivered over the
    gap: while the process was down the setpoints ran out and the SECCs fell back to
    no discharge, while the utility went on asking."""
    return replace(
        measurement,
        modification_number=event.modification_number,
        kind=event.kind,
        delivered_w=0.0,
    )
