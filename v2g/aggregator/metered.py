"""Metered M&V: after the control cycles, what the meters saw over each DR event's
window against the plan and meter baselines (rules in
``v2g.demand_response.metering``), kept in memory for the API and the OpenADR
reports, and in the store.

A running event is measured again at most every ``every_s`` (reading its meter data
is not free); an event that ended or was cancelled is measured once more, for good,
over its whole window (up to the cancellation).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.measurements import MeasurementLedger
from v2g.aggregator.snapshot import Snapshot
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.metering import (
    Baseline,
    MeterBaselineRule,
    MeteredResult,
    days_to_read,
    meter_baseline,
    metered_energy_wh,
    metered_result,
)
from v2g.store.metering import SqlMeteredStore, SqlMeterReader

logger = logging.getLogger(__name__)


class MeteredVerifier:
    """Per DR event, the metered M&V document (``MeteredResult.as_dict``)."""

    def __init__(
        self,
        aggregator: Aggregator,
        ledger: MeasurementLedger,
        reader: SqlMeterReader,
        store: SqlMeteredStore | None = None,
        rule: MeterBaselineRule | None = None,
        hold_s: float = 900.0,
        every_s: float = 300.0,
    ) -> None:
        self._ledger = ledger
        self._reader = reader
        self._store = store
        self.rule = rule or MeterBaselineRule()
        self._hold_s = hold_s
        self._every = timedelta(seconds=every_s)
        self._results: dict[str, dict[str, Any]] = {}
        self._following: dict[str, DemandResponseEvent] = {}
        self._measured_at: dict[str, datetime] = {}
        self._final: set[str] = set()
        self._due: dict[str, tuple[DemandResponseEvent, datetime]] = {}
        self._worker: asyncio.Task[None] | None = None
        ledger.attach_metered(self.get, self.flush)
        aggregator.subscribe(self.observe)

    def get(self, event_id: str) -> dict[str, Any] | None:
        return self._results.get(event_id)

    async def restore(self) -> None:
        """The results stored before a restart (final ones are not measured again)."""
        if self._store is None:
            return
        for event_id, body in (await self._store.all()).items():
            self._results[event_id] = body
            if body.get("final"):
                self._final.add(event_id)

    def observe(self, snapshot: Snapshot) -> None:
        """After a cycle: queue the events whose metered M&V is due."""
        at = snapshot.at
        live = snapshot.state.events.events
        for event_id, event in list(self._following.items()):
            if live.get(event_id) != event and event_id not in self._final:
                # Cancelled or replaced: its window ends now.
                self._due[event_id] = (event, min(at, event.end))
                del self._following[event_id]
        for event in live.values():
            if event.id in self._final or at < event.start:
                continue
            self._following[event.id] = event
            last = self._measured_at.get(event.id)
            if at >= event.end or last is None or at - last >= self._every:
                self._due[event.id] = (event, min(at, event.end))
        if self._due and (self._worker is None or self._worker.done()):
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._due:
            event_id, (event, at) = next(iter(self._due.items()))
            del self._due[event_id]
            final = at >= event.end or event_id not in self._following
            try:
                await self.refresh(event, at, final)
            except Exception:  # M&V must never stop the service; retried next cycle
                logger.exception("metered M&V of %s failed", event_id)

    async def refresh(self, event: DemandResponseEvent, at: datetime, final: bool) -> None:
        """Measure ``event`` up to ``at`` and keep the result (``final``: for good)."""
        result = await self.measure(event, at)
        body = result.as_dict() | {"final": final}
        self._results[event.id] = body
        self._measured_at[event.id] = at
        if final:
            self._final.add(event.id)
            self._following.pop(event.id, None)
        if self._store is not None:
            await self._store.save(event.id, body, at)

    async def measure(self, event: DemandResponseEvent, at: datetime) -> MeteredResult:
        """The metered M&V of ``event`` over its window up to ``at``."""
        measurement = self._ledger.get(event.id)
        end = min(event.end, at)
        samples, ends = await self._reader.samples(event.start, end, self._hold_s)
        meter = await self._meter_baseline(event.start, end)
        # Thousands of samples: integrated off the event loop, which may also be
        # answering the vehicles (the SECC in process).
        return await asyncio.to_thread(
            metered_result,
            event,
            0.0 if measurement is None else measurement.asked_wh,
            0.0 if measurement is None else measurement.baseline_wh,
            samples,
            ends,
            meter,
            at,
            self._hold_s,
        )

    async def _meter_baseline(self, start: datetime, end: datetime) -> Baseline:
        energy_on: dict[int, float | None] = {}
        found = 0
        for back in days_to_read(start, self.rule):
            shift = timedelta(days=back)
            day = (start - shift).replace(hour=0, minute=0, second=0, microsecond=0)
            if not await self._reader.has_data(day, day + timedelta(days=1)):
                energy_on[back] = None
                continue
            samples, ends = await self._reader.samples(start - shift, end - shift, self._hold_s)
            energy_on[back] = await asyncio.to_thread(
                metered_energy_wh, samples, start - shift, end - shift, ends, self._hold_s
            )
            found += 1
            if found == self.rule.of_days:
                break
        return meter_baseline(start, end, self.rule, energy_on)

    async def settle(self, at: datetime) -> None:
        """Measure every followed event once more up to ``at`` (a run that ends, such as
        ``v2g demo``, whose last step no later cycle would measure)."""
        await self.flush()
        for event in list(self._following.values()):
            await self.refresh(event, min(at, event.end), final=at >= event.end)

    async def flush(self) -> None:
        """Wait until every due measurement is done and stored."""
        while self._worker is not None and not self._worker.done():
            await self._worker
