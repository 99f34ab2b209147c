"""M&V ledger: follows the aggregator's snapshots and keeps, per DR event, the energy
asked and delivered against the baseline (arithmetic in
``v2g.demand_response.measurement``), in memory for the API and in the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

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
        self._dirty: dict[str, tuple[Measurement, datetime]] = {}
        self._writer: asyncio.Task[None] | None = None
        self._metered: Callable[[str], dict[str, Any] | None] = lambda _: None
        self._metered_flush: Callable[[], Awaitable[None]] | None = None
        aggregator.subscribe(self.observe)

    def attach_metered(
        self,
        metered: Callable[[str], dict[str, Any] | None],
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Where the metered M&V of an event is found (``MeteredVerifier.get``), and
        how to wait for it (``flush`` waits for it too, so whoever flushes the M&V
        before closing the store leaves no read of it running)."""
        self._metered = metered
        self._metered_flush = flush

    def metered(self, event_id: str) -> dict[str, Any] | None:
        """The metered M&V of ``event_id`` (None before it was measured)."""
        return self._metered(event_id)

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
        for measurement in changed:
            self._dirty[measurement.event_id] = (measurement, at)
        # One writer at a time, always the latest measurement: two overlapping
        # writes could otherwise land out of order and store an older total.
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        assert self._store is not None
        while self._dirty:
            event_id, (measurement, at) = next(iter(self._dirty.items()))
            del self._dirty[event_id]
            try:
                await self._store.save(measurement, at)
            except Exception:
                logger.exception("storing the measurement of %s failed", event_id)

    async def flush(self) -> None:
        """Wait until every measurement is stored (the metered ones too)."""
        while self._writer is not None and not self._writer.done():
            await self._writer
        if self._metered_flush is not None:
            await self._metered_flush()


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
