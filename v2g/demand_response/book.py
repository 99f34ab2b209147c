"""The DR events the aggregator has accepted: revisions deduplicated, cancellations kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from v2g.demand_response.event import DemandResponseEvent


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an incoming event, with the reason told back to the sender."""

    accepted: bool
    reason: str


@dataclass(frozen=True)
class EventBook:
    """Accepted events by id (the latest revision of each) and cancelled ids.

    Immutable: ``accept`` and ``cancel`` return a new book, so a rejected event leaves
    what was accepted before exactly as it was.
    """

    events: Mapping[str, DemandResponseEvent] = field(default_factory=dict)
    cancelled: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", MappingProxyType(dict(self.events)))

    def accept(self, event: DemandResponseEvent) -> tuple[EventBook, Outcome]:
        """Dedupe on (id, modification_number): only a higher revision replaces."""
        known = self.events.get(event.id)
        if known is not None and event.modification_number <= known.modification_number:
            return self, Outcome(
                False,
                f"event {event.id} rev {event.modification_number} ignored: rev "
                f"{known.modification_number} is already accepted",
            )
        if event.id in self.cancelled:
            return self, Outcome(False, f"event {event.id} was cancelled")
        verb = "replaced" if known else "accepted"
        book = EventBook({**self.events, event.id: event}, self.cancelled)
        return book, Outcome(True, f"event {event.id} rev {event.modification_number} {verb}")

    def cancel(self, event_id: str) -> tuple[EventBook, Outcome]:
        """Stop an event at once: it no longer shapes any plan."""
        if event_id not in self.events:
            return self, Outcome(False, f"no event {event_id}")
        events = {k: v for k, v in self.events.items() if k != event_id}
        return EventBook(events, self.cancelled | {event_id}), Outcome(
            True, f"event {event_id} cancelled"
        )

    def share_asked(self, start: datetime, end: datetime) -> float:
        """The share (0..1) of ``start``..``end`` during which some event was in effect."""
        if end <= start:
            return 0.0
        covered = sum(
            (min(e.end, end) - max(e.start, start)).total_seconds()
            for e in self.overlapping(start, end)
        )
        return min(1.0, covered / (end - start).total_seconds())

    def overlapping(self, start: datetime, end: datetime) -> list[DemandResponseEvent]:
        """Events whose window overlaps [start, end), earliest first."""
        found = [e for e in self.events.values() if e.start < end and e.end > start]
        return sorted(found, key=lambda e: (e.start, e.id))
