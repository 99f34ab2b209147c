"""The dispatch plan: setpoints for now, the fleet's planned power over the horizon,
and everything needed to answer "why"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

import numpy as np

from gridmodel import GridVerdict, Violation
from v2g.demand_response import DispatchTarget
from v2g.dispatch.grid import FloatArray
from v2g.envelope import FleetEnvelope, Horizon
from v2g.session import Setpoint


@dataclass(frozen=True)
class DispatchPlan:
    """One control cycle's result.

    ``setpoints`` by EVSE id, each with its binding limit. ``fleet_power_w``: the
    planned net fleet power per slot (W, + = charging; only slot 0 when a fallback
    planned). ``baseline_w``: the plan without DR events (for shed targets and for
    measuring what an event delivered), None when no event was active. ``verdict``:
    the AC check of slot 0 as dispatched. ``strategy`` names the method ("lp" or a
    fallback), ``notes`` say what the plan had to give up (a departure, DR, a row the
    base load breaks), where and why, and why a fallback or a curtailment happened.
    ``disagreements``: what the AC check found that the linear rows had allowed (for
    the caller to calibrate its grid model; the planner itself never changes it).
    """

    created_at: datetime
    horizon: Horizon
    setpoints: Mapping[str, Setpoint]
    fleet_power_w: FloatArray = field(repr=False)
    target: DispatchTarget = field(repr=False)
    baseline_w: FloatArray | None = field(repr=False)
    envelope: FleetEnvelope = field(repr=False)
    verdict: GridVerdict | None
    strategy: str
    notes: tuple[str, ...] = ()
    grid_checks: int = 0
    disagreements: tuple[Violation, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "setpoints", MappingProxyType(dict(self.setpoints)))

    @property
    def power_now_w(self) -> float:
        return float(sum(s.power_w for s in self.setpoints.values()))

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (API, dashboard, store)."""
        verdict = self.verdict
        return {
            "created_at": self.created_at.isoformat(),
            "strategy": self.strategy,
            "notes": list(self.notes),
            "slot_s": self.horizon.slot_s,
            "slot_ends_s": [round(float(e), 3) for e in self.horizon.offsets_s[1:]],
            "fleet_power_w": [round(float(v), 1) for v in self.fleet_power_w],
            "target_cap_w": [
                None if not np.isfinite(v) else round(float(v), 1) for v in self.target.cap_w
            ],
            "target_sources": list(self.target.sources),
            "baseline_w": None
            if self.baseline_w is None
            else [round(float(v), 1) for v in self.baseline_w],
            "setpoints": [
                {
                    "evse_id": evse_id,
                    "power_w": round(s.power_w, 1),
                    "valid_until": s.valid_until.isoformat(),
                    "binding_limit": s.binding.source,
                }
                for evse_id, s in sorted(self.setpoints.items())
            ],
            "grid": None
            if verdict is None
            else {
                "ok": verdict.ok,
                "violations": [
                    {"element": v.element, "metric": v.metric, "value": v.value, "limit": v.limit}
                    for v in verdict.violations
                ],
                "max_line_loading_percent": verdict.max_line_loading_percent,
                "max_trafo_loading_percent": verdict.max_trafo_loading_percent,
                "min_vm_pu": verdict.min_vm_pu,
                "max_vm_pu": verdict.max_vm_pu,
            },
        }
