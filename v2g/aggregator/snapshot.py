"""What the aggregator publishes after each cycle: one immutable snapshot that the API,
the dashboard and the store read (never the live state)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from v2g.aggregator.state import AggregatorState
from v2g.dispatch import DispatchPlan
from v2g.fleet import corridor_of


@dataclass(frozen=True)
class Snapshot:
    """The state a cycle planned from, its plan (None until a first plan exists), how
    long planning took, and the cycle's health notes ("grid check late: ...")."""

    at: datetime
    cycle: int
    state: AggregatorState
    plan: DispatchPlan | None
    plan_ms: float
    health: tuple[str, ...] = ()

    def fleet_view(self) -> list[dict[str, Any]]:
        """One row per connected vehicle: state, SoC, needs (and where they came from),
        setpoint and why."""
        setpoints = self.plan.setpoints if self.plan else {}
        rows = []
        for member in self.state.fleet:
            setpoint = setpoints.get(member.evse_id)
            needs = member.needs
            corridor = corridor_of(member, self.at)
            rows.append(
                {
                    "evse_id": member.evse_id,
                    "session_id": member.session_id,
                    "ev_id": member.ev_id,
                    "bus": member.charger.bus,
                    "plugged_in_at": member.plugged_in_at.isoformat(),
                    "soc_percent": member.soc_percent,
                    "departure": needs.departure.isoformat()
                    if needs and needs.departure
                    else None,
                    "measured_power_w": member.measured_power_w,
                    "setpoint_w": None if setpoint is None else round(setpoint.power_w, 1),
                    "binding_limit": None if setpoint is None else setpoint.binding.source,
                    "v2g_allowed": member.policy.v2g_allowed,
                    "needs_source": corridor.source,
                    "needs_guessed": corridor.guessed,
                    "need_wh": round(corridor.need_wh, 1),
                    "expected_departure": corridor.departure.isoformat(),
                }
            )
        return rows
