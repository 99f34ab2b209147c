"""Dispatch targets: what DR events, prices and operators ask of the fleet, per slot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from v2g.demand_response.book import EventBook
from v2g.demand_response.event import DemandResponseEvent
from v2g.envelope import Horizon
from v2g.envelope.flexibility import FloatArray


@dataclass(frozen=True)
class DispatchTarget:
    """Per slot, a cap on the fleet's net power in W (+ = charging; ``inf`` = no cap)
    and the source that set it ("dr evt-42 rev 3", "operator fleet cap", "") with its
    kind ("export_w", "import_limit_w", "shed_w", "operator" or ""). The planner
    treats caps as soft: it meets them as far as the envelope, the departures and the
    grid allow, and reports the shortfall.

    Every DR kind is such a cap: ``export_w`` v means net <= -v; ``import_limit_w`` v
    means net <= v; ``shed_w`` v means net <= (plan without the event) - v.
    """

    cap_w: FloatArray = field(repr=False)
    sources: tuple[str, ...]
    kinds: tuple[str, ...] = ()

    @classmethod
    def none(cls, horizon: Horizon) -> DispatchTarget:
        return cls(np.full(horizon.slots, np.inf), ("",) * horizon.slots, ("",) * horizon.slots)


def slot_shares(event: DemandResponseEvent, horizon: Horizon) -> FloatArray:
    """The share of each slot that ``event`` covers (0..1). A horizon cut at the event's
    start and end (``Horizon.aligned``) gives exactly 1 inside the event, 0 outside."""
    offsets = horizon.offsets_s
    begin_s = (event.start - horizon.start).total_seconds()
    end_s = (event.end - horizon.start).total_seconds()
    overlap = np.minimum(offsets[1:], end_s) - np.maximum(offsets[:-1], begin_s)
    shares: FloatArray = np.clip(overlap / np.diff(offsets), 0.0, 1.0)
    return shares


def dispatch_target(
    events: Sequence[DemandResponseEvent],
    horizon: Horizon,
    baseline_w: FloatArray | None = None,
    operator_cap_w: float | None = None,
) -> DispatchTarget:
    """The tightest cap per slot from ``events`` (a slot counts when an event covers at
    least half of it: all or nothing on a horizon cut at the events' boundaries) and an
    operator's fleet cap. ``baseline_w`` is the fleet's
    planned net power without events, needed by ``shed_w`` events."""
    cap = np.full(horizon.slots, np.inf)
    sources = [""] * horizon.slots
    kinds = [""] * horizon.slots
    if operator_cap_w is not None:
        cap[:] = operator_cap_w
        sources = ["operator fleet cap"] * horizon.slots
        kinds = ["operator"] * horizon.slots
    for event in events:
        covered = slot_shares(event, horizon) >= 0.5
        if event.kind == "export_w":
            value = np.full(horizon.slots, -event.value_w)
        elif event.kind == "import_limit_w":
            value = np.full(horizon.slots, event.value_w)
        else:
            base = baseline_w if baseline_w is not None else np.zeros(horizon.slots)
            value = base - event.value_w
        tighter = covered & (value < cap)
        cap = np.where(tighter, value, cap)
        for k in np.flatnonzero(tighter):
            sources[int(k)] = event.source
            kinds[int(k)] = event.kind
    return DispatchTarget(cap, tuple(sources), tuple(kinds))


def event_horizon(now: datetime, slot_s: float, until_s: float, events: EventBook) -> Horizon:
    """The clock-aligned horizon from ``now`` over ``until_s`` seconds, cut at the start
    and end of every event in ``events`` that overlaps it."""
    reach = Horizon.aligned(now, slot_s, until_s)
    moments = [m for e in events.overlapping(now, reach.end) for m in (e.start, e.end)]
    return Horizon.aligned(now, slot_s, until_s, moments)
