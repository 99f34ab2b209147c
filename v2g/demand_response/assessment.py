"""Can the fleet deliver what DR events ask? (pure; the VEN's opt-in decision).

The fleet envelope (``v2g.envelope``) gives, per slot, the fleet's power range; the
plan gives what the fleet will do. An event is deliverable when, in every slot of the
horizon it covers, the envelope reaches the cap it sets (with ``min_fraction`` of
the request as the tolerance the site accepts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from v2g.demand_response.event import DemandResponseEvent
from v2g.envelope import FleetEnvelope
from v2g.envelope.flexibility import FloatArray


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
) -> Assessment:
    """Deliverable when every event's request fits the envelope in the slots it covers.

    ``planned_w``: the fleet's planned net power per slot (W, + = charging), the
    reference for ``shed_w``. Slots past the horizon cannot be judged yet and are
    taken on trust (the VTN re-sends modifications; the plan reports shortfalls).
    """
    for event in events:
        slots = _covered(event, envelope)
        for k in slots:
            lowest_w = float(envelope.lower_w[k])
            at = envelope.horizon.slot_start(k).isoformat()
            if event.kind == "import_limit_w":
                if lowest_w > event.value_w + 1e-6:
                    return Assessment(
                        False,
                        f"fleet must draw at least {lowest_w:.0f} W at {at} (departures, "
                        f"must-run charging); {event.id} caps it at {event.value_w:.0f} W",
                    )
                continue
            if event.kind == "export_w":
                reach_w, what = -lowest_w, "discharge"
            else:
                reach_w, what = float(planned_w[k]) - lowest_w, "shed"
            if reach_w + 1e-6 < event.value_w * min_fraction:
                return Assessment(
                    False,
                    f"fleet can {what} at most {max(reach_w, 0.0):.0f} W at {at}; "
                    f"{event.id} asks {event.value_w:.0f} W",
                )
    if not events:
        return Assessment(True, "nothing asked")
    return Assessment(True, "fleet envelope covers the request")
