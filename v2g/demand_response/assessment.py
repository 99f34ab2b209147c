"""Can the fleet deliver what DR events ask? (pure; the VEN's opt-in decision).

The fleet envelope (``v2g.envelope``) gives, per slot, the fleet's power range; the
plan gives what the fleet will do. An event is deliverable when, in every slot of the
horizon it covers, the envelope reaches the cap it sets (with ``min_fraction`` of
the request as the tolerance the site accepts). Past the horizon (an event for
tomorrow evening: the plan does not see that far, nor the cars that will arrive), the
request is judged against the day-ahead offer (``v2g.forecast.offer``: the power
expected arrivals reach with a stated confidence), when one is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from v2g.demand_response.event import DemandResponseEvent
from v2g.envelope import FleetEnvelope
from v2g.envelope.flexibility import FloatArray
from v2g.forecast.offer import Offer


@dataclass(frozen=True, slots=True)
class Assessment:
    """Whether to take part, and why (told to the VTN and kept for the operator)."""

    deliverable: bool
    reason: str


def _covered(event: DemandResponseEvent, envelope: FleetEnvelope) -> list[int]:
    horizon = envelope.horizon
    return [
        k
        for k in range(horizon.slots)
        if event.start < horizon.slot_start(k + 1) and event.end > horizon.slot_start(k)
    ]


def assess(
    events: Sequence[DemandResponseEvent],
    envelope: FleetEnvelope,
    planned_w: FloatArray,
    min_fraction: float = 1.0,
    beyond: Offer | None = None,
) -> Assessment:
    """Deliverable when every event's request fits the envelope in the slots it covers,
    and, past the horizon, the offer ``beyond`` (the slots it has).

    ``planned_w``: the fleet's planned net power per slot (W, + = charging), the
    reference for ``shed_w``. Without an offer, slots past the horizon are taken on
    trust (the VTN re-sends modifications; the plan reports shortfalls); an
    ``import_limit_w`` past the horizon always is (an offer says what can be shed or
    exported, not the least the fleet must draw).
    """
    for event in events:
        refusal = _within_horizon(event, envelope, planned_w, min_fraction)
        refusal = refusal or _past_horizon(event, envelope.horizon.end, beyond, min_fraction)
        if refusal:
            return Assessment(False, refusal)
    if not events:
        return Assessment(True, "nothing asked")
    return Assessment(
        True, "fleet envelope covers the request" + _beyond_note(events, envelope, beyond)
    )


def _within_horizon(
    event: DemandResponseEvent, envelope: FleetEnvelope, planned_w: FloatArray, min_fraction: float
) -> str:
    if event.kind == "import_limit_w":
        refusal = _energy_within(event, envelope)
        if refusal:
            return refusal
    for k in _covered(event, envelope):
        lowest_w = float(envelope.lower_w[k])
        at = envelope.horizon.slot_start(k).isoformat()
        if event.kind == "import_limit_w":
            if lowest_w > event.value_w + 1e-6:
                return (
                    f"fleet must draw at least {lowest_w:.0f} W at {at} (departures, "
                    f"must-run charging); {event.id} caps it at {event.value_w:.0f} W"
                )
            continue
        if event.kind == "export_w":
            reach_w, what = -lowest_w, "discharge"
        else:
            reach_w, what = float(planned_w[k]) - lowest_w, "shed"
        if reach_w + 1e-6 < event.value_w * min_fraction:
            return (
                f"fleet can {what} at most {max(reach_w, 0.0):.0f} W at {at}; "
                f"{event.id} asks {event.value_w:.0f} W"
            )
    return ""


def _energy_within(event: DemandResponseEvent, envelope: FleetEnvelope) -> str:
    """Refused when the energy the fleet must have gained by the event's end (its
    departures, booked cars expected) exceeds what it can gain before the event at full
    power plus what the cap lets through during it. Summed over the fleet, so it
    refuses only what no plan can deliver (one car's early charge may count for
    another's need here; the plan itself then reports any shortfall)."""
    covered = _covered(event, envelope)
    if not covered:
        return ""
    first, last = covered[0], covered[-1]
    before_wh = float(envelope.max_energy_wh[first - 1]) if first > 0 else 0.0
    through_wh = max(event.value_w, 0.0) * float(np.sum(envelope.horizon.hours[covered]))
    must_wh = float(envelope.min_energy_wh[last])
    if must_wh <= before_wh + through_wh + 1.0:
        return ""
    at = envelope.horizon.slot_start(last + 1).isoformat()
    return (
        f"fleet must have gained {must_wh / 1000:.1f} kWh by {at} (departures, booked "
        f"arrivals); it can gain at most {(before_wh + through_wh) / 1000:.1f} kWh with "
        f"{event.id} capping it at {event.value_w:.0f} W"
    )


def _past_horizon(
    event: DemandResponseEvent, horizon_end: datetime, offer: Offer | None, min_fraction: float
) -> str:
    if offer is None or event.kind == "import_limit_w" or event.end <= horizon_end:
        return ""
    what = "export" if event.kind == "export_w" else "shed"
    ends = [s.start for s in offer.slots[1:]] + [offer.end]
    for slot, slot_end in zip(offer.slots, ends, strict=True):
        if slot_end <= max(event.start, horizon_end) or slot.start >= event.end:
            continue
        reach_w = slot.export_w if event.kind == "export_w" else slot.shed_w
        if reach_w + 1e-6 < event.value_w * min_fraction:
            return (
                f"past the plan's horizon ({horizon_end.isoformat()}) the fleet is expected to "
                f"{what} at most {reach_w:.0f} W at {slot.start.isoformat()} with "
                f"{offer.confidence:.0%} confidence (P{round(offer.confidence * 100)} day-ahead "
                f"offer: {offer.basis}); {event.id} asks {event.value_w:.0f} W"
            )
    return ""


def _beyond_note(
    events: Sequence[DemandResponseEvent], envelope: FleetEnvelope, offer: Offer | None
) -> str:
    horizon_end = envelope.horizon.end
    if not any(e.end > horizon_end for e in events):
        return ""
    if offer is None:
        return f"; past the plan's horizon ({horizon_end.isoformat()}) taken on trust"
    return (
        f"; past the plan's horizon ({horizon_end.isoformat()}) by the P"
        f"{round(offer.confidence * 100)} day-ahead offer ({offer.confidence:.0%} "
        f"confidence: {offer.basis})"
    )
