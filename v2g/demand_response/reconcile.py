"""Event lifecycle decisions (pure): which event boundaries to act on now, which to
schedule, after a start or a restart. ``now`` and what was already handled are given.

A boundary is an event's start or end. Each is handled exactly once: on time by the
scheduler, or at the next start-up when it fell into a downtime (a missed start of an
event still running is handled then; the start of an event that ended while the
process was down is skipped, never replayed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from v2g.demand_response.book import EventBook
from v2g.demand_response.event import DemandResponseEvent

EDGES = ("start", "end")


@dataclass(frozen=True, slots=True)
class Boundary:
    """The start or end of one revision of one event."""

    event_id: str
    modification_number: int
    edge: str
    at: datetime

    def __post_init__(self) -> None:
        if self.edge not in EDGES:
            raise ValueError(f"edge must be one of {EDGES}, got {self.edge!r}")

    @property
    def key(self) -> str:
        """Stable name (job id, store key): ``dr:<id>:<rev>:<edge>``."""
        return f"dr:{self.event_id}:{self.modification_number}:{self.edge}"


def boundaries_of(event: DemandResponseEvent) -> tuple[Boundary, Boundary]:
    return (
        Boundary(event.id, event.modification_number, "start", event.start),
        Boundary(event.id, event.modification_number, "end", event.end),
    )


@dataclass(frozen=True)
class Reconciliation:
    """What to do at start-up: boundaries to handle now (``handle``), boundaries to
    record as skipped (``skip``), boundaries to schedule, and which events resume
    (active now) or are over."""

    handle: tuple[Boundary, ...]
    skip: tuple[Boundary, ...]
    schedule: tuple[Boundary, ...]
    resumed: tuple[str, ...]
    finished: tuple[str, ...]


def reconcile(book: EventBook, handled: Iterable[str], now: datetime) -> Reconciliation:
    """Decide, per accepted (not cancelled) event, against its window and ``now``."""
    done = set(handled)
    handle: list[Boundary] = []
    skip: list[Boundary] = []
    schedule: list[Boundary] = []
    resumed: list[str] = []
    finished: list[str] = []
    for event in sorted(book.events.values(), key=lambda e: (e.start, e.id)):
        start, end = boundaries_of(event)
        if event.end <= now:
            finished.append(event.id)
            if start.key not in done:
                skip.append(start)  # over while we were down: do not replay its start
            if end.key not in done:
                handle.append(end)  # closes its measurement once
        elif event.start <= now:
            resumed.append(event.id)
            if start.key not in done:
                handle.append(start)  # a start missed during a downtime, handled once
            schedule.append(end)
        else:
            schedule += [start, end]
    return Reconciliation(
        tuple(handle), tuple(skip), tuple(schedule), tuple(resumed), tuple(finished)
    )
