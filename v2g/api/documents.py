"""The API's JSON documents, built from domain objects (wire names in docs/api.md)."""

from __future__ import annotations

from typing import Any

from v2g.aggregator import Snapshot
from v2g.demand_response import DemandResponseEvent


def event_document(event: DemandResponseEvent, status: str) -> dict[str, Any]:
    return {
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


def events_document(snapshot: Snapshot) -> list[dict[str, Any]]:
    """The DR events a snapshot planned with, for the dashboard's timeline."""
    events = sorted(snapshot.state.events.events.values(), key=lambda e: (e.start, e.id))
    return [event_document(e, "accepted") for e in events]
