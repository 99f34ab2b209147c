"""Uncontrolled charging as a site without any control would do it: full power from
arrival until the target, blind to the grid and to prices (the planner's own
"uncontrolled" rule is still curtailed by the AC check, so it is not this)."""

from __future__ import annotations

import numpy as np

from tests.oracle.metrics import CHARGE_EFFICIENCY, present, slot_times
from v2g.simulation.scenario import Scenario


def uncontrolled(scenario: Scenario) -> dict[str, np.ndarray]:
    """W per vehicle and slot: max charge from arrival, the last slot only what the
    target still needs."""
    times = slot_times(scenario)
    hours = scenario.step_s / 3600
    schedule: dict[str, np.ndarray] = {}
    for vehicle in scenario.vehicles:
        power = np.zeros(len(times))
        need_wh = (
            vehicle.capacity_wh * (vehicle.soc_target_percent - vehicle.soc_arrival_percent) / 100
        )
        for k in np.flatnonzero(present(vehicle, times)):
            if need_wh <= 0:
                break
            power[k] = min(vehicle.max_charge_w, need_wh / hours / CHARGE_EFFICIENCY)
            need_wh -= power[k] * hours * CHARGE_EFFICIENCY
        schedule[vehicle.id] = power
    return schedule
