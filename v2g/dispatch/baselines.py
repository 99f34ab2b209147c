"""Simple charging rules: the planner's fallback and the baselines it is measured
against. Each decides slot 0 only, charge-only, within the fleet cap, from every
vehicle's must-run power up; the same AC check and curtailment then apply.

- uncontrolled: every vehicle at full power until it reaches its target;
- earliest departure first (EDF) and least laxity first (LLF): full power in that
  order while the fleet cap allows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import numpy as np

from v2g.demand_response import dispatch_target
from v2g.demand_response.target import event_horizon
from v2g.dispatch.curtail import verify
from v2g.dispatch.grid import GridModel
from v2g.dispatch.inputs import PlanInputs, PlannerSettings
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.split import Share
from v2g.envelope import Flexibility, fleet_envelope, flexibilities
from v2g.limits import Limit
from v2g.session import Setpoint

Rule = Callable[[Sequence[Flexibility], float, float], list[Share]]


def _in_order(
    flexes: Sequence[Flexibility], cap_w: float, slot_h: float, key: Callable[[Flexibility], float]
) -> list[Share]:
    ranges = [f.slot0_range_w(slot_h) for f in flexes]
    powers = [max(low, 0.0) for low, _ in ranges]
    budget = cap_w - sum(powers)
    for i in sorted(range(len(flexes)), key=lambda i: (-flexes[i].priority, key(flexes[i]))):
        add = min(max(budget, 0.0), ranges[i][1] - powers[i])
        powers[i] += add
        budget -= add
    return [
        Share(f.evse_id, p, "must" if 0 < p <= low + 1.0 else "")
        for f, p, (low, _) in zip(flexes, powers, ranges, strict=True)
    ]


def earliest_departure_first(
    flexes: Sequence[Flexibility], cap_w: float, slot_h: float
) -> list[Share]:
    return _in_order(flexes, cap_w, slot_h, lambda f: f.dwell_s)


def least_laxity_first(flexes: Sequence[Flexibility], cap_w: float, slot_h: float) -> list[Share]:
    return _in_order(flexes, cap_w, slot_h, lambda f: f.laxity_s)


def uncontrolled(flexes: Sequence[Flexibility], cap_w: float, slot_h: float) -> list[Share]:
    """Full power until full: a vehicle stops once at its target (its range's top
    keeps it there); the fleet cap is ignored, as a site without control would."""
    del cap_w
    return [Share(f.evse_id, f.slot0_range_w(slot_h)[1], "upper") for f in flexes]


RULES: dict[str, Rule] = {
    "uncontrolled": uncontrolled,
    "earliest-departure-first": earliest_departure_first,
    "least-laxity-first": least_laxity_first,
}


Planner = Callable[[PlanInputs, GridModel, PlannerSettings | None], DispatchPlan]


def plan_by_rule(name: str) -> Planner:
    """A planner with ``plan_dispatch``'s signature that applies rule ``name``."""
    rule = RULES[name]

    def plan(
        inputs: PlanInputs, grid: GridModel, settings: PlannerSettings | None = None
    ) -> DispatchPlan:
        chosen = settings or PlannerSettings()
        # The planner's slots: slot 0 ends at the next DR boundary, so the rules too
        # deliver inside the event's window.
        horizon = event_horizon(
            inputs.now, chosen.slot_s, chosen.slots * chosen.slot_s, inputs.events
        )
        flexes = flexibilities(list(inputs.fleet), horizon, chosen.efficiency)
        events = inputs.events.overlapping(horizon.start, horizon.end)
        baseline = None
        if any(e.kind != "export_w" or e.active_at(inputs.now) for e in events):
            # What the rule does without events (targets and M&V measure against it).
            cap = np.inf if inputs.operator_cap_w is None else inputs.operator_cap_w
            free = rule(flexes, cap, horizon.first_h)
            baseline = np.full(horizon.slots, sum(s.power_w for s in free))
        target = dispatch_target(events, horizon, baseline, inputs.operator_cap_w)
        shares = rule(flexes, float(target.cap_w[0]), horizon.first_h)
        base = grid.base_injections(inputs.base_load.at(inputs.now))
        checked = verify(
            grid,
            {s.evse_id: s.power_w for s in shares},
            {f.evse_id: f.bus for f in flexes},
            base,
        )
        valid_until = inputs.now + timedelta(seconds=chosen.setpoint_valid_s)
        setpoints = {
            f.evse_id: Setpoint(
                checked.power_w[f.evse_id],
                valid_until,
                Limit(checked.power_w[f.evse_id], f"baseline {name}"),
            )
            for f in flexes
        }
        return DispatchPlan(
            created_at=inputs.now,
            horizon=horizon,
            setpoints=setpoints,
            fleet_power_w=np.array([sum(checked.power_w.values())]),
            target=target,
            baseline_w=None if baseline is None else baseline[:1],
            envelope=fleet_envelope(flexes, horizon),
            verdict=checked.verdict,
            strategy=name,
            grid_checks=checked.checks,
        )

    return plan
