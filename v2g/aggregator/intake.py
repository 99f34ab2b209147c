"""DR intake: the one door through which every channel (HTTP, OpenADR 2.0b, OpenADR 3)
hands events to the aggregator. An accepted event is stored before the sender hears
"accepted", so it survives a restart; a rejected one changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from v2g.aggregator.cycle import Aggregator
from v2g.aggregator.lifecycle import EventLifecycle
from v2g.aggregator.measurements import MeasurementLedger
from v2g.aggregator.state import CancelEvent, SetPrices
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, Outcome
from v2g.store import SqlEventStore


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

    @property
    def aggregator(self) -> Aggregator:
        return self._aggregator

    def measurements(self) -> list[dict[str, object]]:
        """M&V per DR event (energy asked and delivered against the baseline), for the
        API: one JSON-ready dict per event, by event id."""
        return [] if self._ledger is None else [m.as_dict() for m in self._ledger.all()]

    def measurement(self, event_id: str) -> dict[str, object] | None:
        """M&V of one DR event, or None when it was never active."""
        found = None if self._ledger is None else self._ledger.get(event_id)
        return None if found is None else found.as_dict()

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
        outcome = self._aggregator.submit(event)
        if outcome.accepted:
            await self._store.save(event, channel, self._aggregator.clock.now())
            if self._lifecycle is not None:
                await self._lifecycle.schedule(event)
        return outcome

    async def cancel(self, event_id: str) -> Outcome:
        outcome = self._aggregator.submit(CancelEvent(event_id))
        if outcome.accepted:
            await self._store.cancel(event_id, self._aggregator.clock.now())
            if self._lifecycle is not None:
                self._lifecycle.unschedule(event_id)
        return outcome
