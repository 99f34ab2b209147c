"""DR intake: the one door through which every channel (HTTP, OpenADR 2.0b, OpenADR 3)
hands events to the aggregator.

Store first, then apply: an event the aggregator would accept is written to the store,
and only once it is stored does it shape plans, so the sender's "accepted" always means
"survives a restart". When the store fails (a locked or full database, an id SQLite
cannot encode) the sender hears "not stored", nothing changed in memory, a retry is
taken afresh, and the health resource reports the failure. One receive or cancel runs
at a time, so the check and the apply see the same state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.lifecycle import EventLifecycle
from v2g.aggregator.measurements import MeasurementLedger
from v2g.aggregator.state import CancelEvent, SetPrices, fold
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, Outcome
from v2g.store import SqlEventStore

logger = logging.getLogger(__name__)

#: Channels with an id space of their own: their DR event ids are ``channel:id``
#: (``v2g.openadr.signals.channel_id``), and no other channel may hand in such an id,
#: so one channel's cancel never reaches another's event.
NAMESPACED_CHANNELS = ("openadr2b", "openadr3")


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """How the DR store's writes went: ``failures`` since start, and the last
    failure (its time and error), which ``failing`` says is not yet followed by a
    successful write."""

    failures: int = 0
    last_failure_at: datetime | None = None
    last_error: str | None = None
    failing: bool = False

    def notes(self) -> list[str]:
        if not self.failing:
            return []
        assert self.last_failure_at is not None
        return [
            f"DR store write failed at {self.last_failure_at.isoformat()}: {self.last_error} "
            f"({self.failures} failure(s) since start); DR events are refused until it works"
        ]


class StoreFailed(Exception):
    """The DR store refused a write: the event was not applied either."""


class DemandResponseIntake:
    """Validated events in, outcomes out (the reason goes back to the sender)."""

    def __init__(
        self,
        aggregator: Aggregator,
        store: SqlEventStore,
        lifecycle: EventLifecycle | None = None,
        ledger: MeasurementLedger | None = None,
    ) -> None:
        self._aggregator = aggregator
        self._store = store
        self._lifecycle = lifecycle
        self._ledger = ledger
        self._one_at_a_time = asyncio.Lock()
        self._store_health = StoreHealth()
        self._channel_notes: dict[str, Callable[[], list[str]]] = {}
        self._channel_status: dict[str, Callable[[], dict[str, object]]] = {}

    def watch(
        self,
        channel: str,
        notes: Callable[[], list[str]],
        status: Callable[[], dict[str, object]] | None = None,
    ) -> None:
        """Show ``channel``'s troubles (``notes()``, empty while well) in health, and
        with ``status`` its link (connected, last poll, last error) too."""
        self._channel_notes[channel] = notes
        if status is not None:
            self._channel_status[channel] = status

    def channel_status(self) -> dict[str, dict[str, object]]:
        """Each watched channel's link now, by channel (for ``/api/v1/health``)."""
        return {channel: status() for channel, status in self._channel_status.items()}

    def channel_notes(self) -> list[str]:
        """What every watched channel reports now (for ``/api/v1/health``)."""
        return [note for notes in self._channel_notes.values() for note in notes()]

    @property
    def store_health(self) -> StoreHealth:
        return self._store_health

    @property
    def aggregator(self) -> Aggregator:
        return self._aggregator

    def measurements(self) -> list[dict[str, object]]:
        """M&V per DR event (energy asked and delivered against the baseline), for the
        API: one JSON-ready dict per event, by event id; ``measured``: what the meters
        saw (``v2g.demand_response.metering``), None before it was measured."""
        if self._ledger is None:
            return []
        ledger = self._ledger
        return [m.as_dict() | {"measured": ledger.metered(m.event_id)} for m in ledger.all()]

    def measurement(self, event_id: str) -> dict[str, object] | None:
        """M&V of one DR event, or None when it was never active."""
        found = None if self._ledger is None else self._ledger.get(event_id)
        if found is None or self._ledger is None:
            return None
        return found.as_dict() | {"measured": self._ledger.metered(event_id)}

    def parts_of(self, event_id: str) -> list[str]:
        """The accepted DR events an OpenADR event became: its id, or ``id#k`` per
        interval (``v2g.openadr.signals.sub_event_id``); survives a restart."""
        held = self._aggregator.state.events.events
        return sorted(i for i in held if i == event_id or i.startswith(f"{event_id}#"))

    def holds(self, event: DemandResponseEvent) -> bool:
        """True when exactly this revision is already accepted (a VTN re-sending what
        we took before a restart: not new, but not a refusal either)."""
        return self._aggregator.state.events.events.get(event.id) == event

    async def receive_prices(
        self, points: Sequence[tuple[datetime, float]], channel: str
    ) -> Outcome:
        """A utility's price curve (per kWh): replaces the aggregator's prices."""
        try:
            curve = StepCurve.of(points)
        except ValueError as error:
            return Outcome(False, f"prices from {channel}: {error}")
        return self._aggregator.submit(SetPrices(curve))

    async def receive(self, event: DemandResponseEvent, channel: str) -> Outcome:
        """Take ``event`` (see ``receive_stored``); a store failure is a refusal."""
        try:
            return await self.receive_stored(event, channel)
        except StoreFailed as failure:
            return Outcome(False, str(failure))

    async def cancel(self, event_id: str) -> Outcome:
        """Cancel ``event_id`` (see ``cancel_stored``); a store failure is a refusal."""
        try:
            return await self.cancel_stored(event_id)
        except StoreFailed as failure:
            return Outcome(False, str(failure))

    async def receive_stored(self, event: DemandResponseEvent, channel: str) -> Outcome:
        """Store ``event`` if the aggregator would take it, then apply it. The very
        revision already held is accepted again and changes nothing (a retry);
        raises StoreFailed, with nothing changed, when the store fails."""
        namespace = event.id.split(":", 1)[0] if ":" in event.id else ""
        if namespace in NAMESPACED_CHANNELS and namespace != channel:
            return Outcome(
                False,
                f"event id {event.id!r}: ids starting {namespace}: belong to that channel",
            )
        async with self._one_at_a_time:
            if self.holds(event):
                return Outcome(
                    True, f"event {event.id} rev {event.modification_number} already accepted"
                )
            _, would = fold(self._aggregator.state, event, self._aggregator.site)
            if not would.accepted:
                return self._aggregator.submit(event)  # refused: logged, state unchanged
            now = self._aggregator.clock.now()
            await self._write(self._store.save(event, channel, now), event.id, now)
            outcome = self._aggregator.submit(event)
            if outcome.accepted and self._lifecycle is not None:
                await self._lifecycle.schedule(event)
            return outcome

    async def cancel_stored(self, event_id: str) -> Outcome:
        """Store the cancellation if there is something to cancel, then apply it;
        raises StoreFailed, with nothing changed, when the store fails."""
        async with self._one_at_a_time:
            cancel = CancelEvent(event_id)
            _, would = fold(self._aggregator.state, cancel, self._aggregator.site)
            if not would.accepted:
                return self._aggregator.submit(cancel)
            now = self._aggregator.clock.now()
            await self._write(self._store.cancel(event_id, now), event_id, now)
            outcome = self._aggregator.submit(cancel)
            if outcome.accepted and self._lifecycle is not None:
                self._lifecycle.unschedule(event_id)
            return outcome

    async def _write(self, write: Coroutine[Any, Any, None], event_id: str, now: datetime) -> None:
        """Run ``write``; on failure note it for the health resource and raise
        StoreFailed."""
        try:
            await write
        except Exception as error:  # any store failure: refuse, keep memory as it was
            logger.error("DR event %r not stored, refused: %s", event_id, error)
            self._store_health = StoreHealth(
                self._store_health.failures + 1,
                now,
                f"{type(error).__name__}: {error}"[:300],
                failing=True,
            )
            raise StoreFailed(
                f"event {event_id!r} not stored ({type(error).__name__}): nothing changed, retry"
            ) from error
        self._store_health = replace(self._store_health, failing=False)
