"""Measurement and verification (pure): per DR event, the energy asked and the energy
delivered against the baseline, accumulated from the control cycles' snapshots.

What counts as delivered, per kind (all in W, then integrated to Wh):

    export_w        asked: value          delivered: -fleet power (discharge)
    shed_w          asked: value          delivered: baseline - fleet power
    import_limit_w  asked: baseline - cap delivered: baseline - fleet power
                    (only what the baseline exceeded the cap by was asked)

The baseline is the plan the fleet would have followed without DR events
(``DispatchPlan.baseline_w``, slot 0; the fleet power when a plan has none). A rate
observed at one cycle holds until the next cycle or the event's end, whichever comes
first (step-wise integration); the baseline is integrated the same way
(``baseline_wh``), for the metered M&V (``v2g.demand_response.metering``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from v2g.demand_response.event import DemandResponseEvent


@dataclass(frozen=True, slots=True)
class Measurement:
    """Energy asked and delivered (Wh) for one event revision so far, and the rates
    (W) seen at the last observation, which hold until the next one."""

    event_id: str
    modification_number: int
    kind: str
    asked_wh: float = 0.0
    delivered_wh: float = 0.0
    last_at: datetime | None = None
    asked_w: float = 0.0
    delivered_w: float = 0.0
    observations: int = 0
    baseline_wh: float = 0.0
    baseline_w: float = 0.0

    @property
    def delivery_percent(self) -> float | None:
        """Delivered over asked in percent (None before anything was asked)."""
        if self.asked_wh <= 0:
            return None
        return 100.0 * self.delivered_wh / self.asked_wh

    def as_dict(self) -> dict[str, object]:
        percent = self.delivery_percent
        return {
            "event_id": self.event_id,
            "modification_number": self.modification_number,
            "kind": self.kind,
            "asked_wh": round(self.asked_wh, 3),
            "delivered_wh": round(self.delivered_wh, 3),
            "delivery_percent": None if percent is None else round(percent, 2),
            "last_at": None if self.last_at is None else self.last_at.isoformat(),
            "asked_w": round(self.asked_w, 3),
            "delivered_w": round(self.delivered_w, 3),
            "observations": self.observations,
            "baseline_wh": round(self.baseline_wh, 3),
            "baseline_w": round(self.baseline_w, 3),
        }


def rates(
    event: DemandResponseEvent, fleet_power_w: float, baseline_w: float | None
) -> tuple[float, float]:
    """(asked W, delivered W) while ``event`` is active (see the module table)."""
    if event.kind == "export_w":
        return event.value_w, -fleet_power_w
    base = fleet_power_w if baseline_w is None else baseline_w
    if event.kind == "shed_w":
        return event.value_w, base - fleet_power_w
    return max(base - event.value_w, 0.0), base - fleet_power_w


def start(event: DemandResponseEvent) -> Measurement:
    return Measurement(event.id, event.modification_number, event.kind)


def observe(
    measurement: Measurement,
    event: DemandResponseEvent,
    at: datetime,
    fleet_power_w: float,
    baseline_w: float | None,
) -> Measurement:
    """``measurement`` after a cycle at ``at``: the rates seen last are integrated up
    to ``at`` (clipped to the event window), then the new rates apply from ``at``."""
    asked_wh, delivered_wh = measurement.asked_wh, measurement.delivered_wh
    base_wh = measurement.baseline_wh
    if measurement.last_at is not None:
        begin = max(measurement.last_at, event.start)
        end = min(at, event.end)
        hours = max((end - begin).total_seconds(), 0.0) / 3600.0
        asked_wh += measurement.asked_w * hours
        delivered_wh += measurement.delivered_w * hours
        base_wh += measurement.baseline_w * hours
    if event.active_at(at):
        asked_w, delivered_w = rates(event, fleet_power_w, baseline_w)
        base_w = fleet_power_w if baseline_w is None else baseline_w
    else:
        asked_w = delivered_w = base_w = 0.0
    return replace(
        measurement,
        asked_wh=asked_wh,
        delivered_wh=delivered_wh,
        last_at=at,
        asked_w=asked_w,
        delivered_w=delivered_w,
        observations=measurement.observations + 1,
        baseline_wh=base_wh,
        baseline_w=base_w,
    )


def close(measurement: Measurement, event: DemandResponseEvent, at: datetime) -> Measurement:
    """``measurement`` stopped at ``at`` (a cancellation or a replaced revision): the
    last rates count up to ``at``, nothing after."""
    stopped = observe(measurement, event, min(at, event.end), 0.0, None)
    return replace(stopped, asked_w=0.0, delivered_w=0.0, baseline_w=0.0)
