"""The API's JSON documents, built from domain objects (wire names in docs/api.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from v2g.aggregator import Snapshot
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.measurement import Measurement

#: The measurement of a DR event by its id (None before it was ever active).
Measured = Callable[[str], Measurement | None]
#: What the meters saw of a DR event by its id (v2g.demand_response.metering; None
#: before it was measured).
Metered = Callable[[str], dict[str, Any] | None]


def measurement_document(measurement: Measurement | None) -> dict[str, Any] | None:
    """What a DR event achieved so far (M&V, v2g.demand_response.measurement): the
    ledger's figures, plus ``credited_wh`` (delivered, at most what was asked) and
    ``beyond_ask_wh`` (delivered beyond the ask: the fleet moved more than the event
    asked, e.g. discharging further because the price paid for it)."""
    if measurement is None:
        return None
    asked, delivered = measurement.asked_wh, measurement.delivered_wh
    return measurement.as_dict() | {
        "credited_wh": round(max(0.0, min(delivered, asked)), 3),
        "beyond_ask_wh": round(max(0.0, delivered - asked), 3),
    }


def event_document(
    event: DemandResponseEvent, status: str, measured: Measured | None = None
) -> dict[str, Any]:
    """A DR event on the wire; with ``measured``, also what it achieved so far
    (``measurement``, None before it was active)."""
    found = {} if measured is None else {"measurement": measurement_document(measured(event.id))}
    return found | {
        "id": event.id,
        "modification_number": event.modification_number,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "kind": event.kind,
        "value": event.value_w,
        "status": status,
    }


def grid_document(
    snapshot: Snapshot, network: str, history: list[dict[str, Any]]
) -> dict[str, Any]:
    verdict = None if snapshot.plan is None else snapshot.plan.as_dict()["grid"]
    return {
        "at": snapshot.at.isoformat(),
        "network": network,
        "verdict": verdict,
        "history": history,
    }


def plan_document(snapshot: Snapshot) -> dict[str, Any] | None:
    if snapshot.plan is None:
        return None
    return {
        "at": snapshot.at.isoformat(),
        "cycle": snapshot.cycle,
        "plan_ms": round(snapshot.plan_ms, 2),
        "health": list(snapshot.health),
        **snapshot.plan.as_dict(),
    }


def events_document(
    snapshot: Snapshot, measured: Measured | None = None, metered: Metered | None = None
) -> list[dict[str, Any]]:
    """The DR events a snapshot planned with, for the dashboard's timeline (with what
    each achieved so far when ``measured`` is given, and what the meters saw when
    ``metered`` is)."""
    events = sorted(snapshot.state.events.events.values(), key=lambda e: (e.start, e.id))
    found = [event_document(e, "accepted", measured) for e in events]
    if metered is not None:
        found = [d | {"measured": metered(d["id"])} for d in found]
    return found
