"""What a schedule achieved, measured the same way for every planner: energy per
vehicle (the simulator's efficiency and battery clamps), departures met (docs/scenario.md),
DR energy delivered, energy cost, and the AC replay's violations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from tests.oracle.replay import AcReplay, ReplayResult
from v2g.simulation.scenario import Scenario, ScenarioVehicle

#: v2g.envelope.Efficiency's defaults (charge, discharge), restated here on purpose.
CHARGE_EFFICIENCY = 0.95
DISCHARGE_EFFICIENCY = 0.95


def slot_times(scenario: Scenario) -> list[datetime]:
    steps = int((scenario.end - scenario.start).total_seconds() // scenario.step_s)
    return [scenario.start + timedelta(seconds=k * scenario.step_s) for k in range(steps)]


def present(vehicle: ScenarioVehicle, times: list[datetime]) -> np.ndarray:
    """Slots the vehicle is plugged in (as the simulator steps: arrival <= t < departure)."""
    return np.array([vehicle.arrival <= t < vehicle.departure for t in times])


def departs(vehicle: ScenarioVehicle, times: list[datetime]) -> bool:
    """Whether the vehicle leaves within the scenario (only those count)."""
    return bool(times) and vehicle.departure <= times[-1]


def stored_wh(power_w: float, hours: float) -> float:
    if power_w >= 0:
        return power_w * hours * CHARGE_EFFICIENCY
    return power_w * hours / DISCHARGE_EFFICIENCY


def reachable_wh(vehicle: ScenarioVehicle) -> float:
    arrival = vehicle.capacity_wh * vehicle.soc_arrival_percent / 100
    dwell_h = (vehicle.departure - vehicle.arrival).total_seconds() / 3600
    return min(vehicle.capacity_wh, arrival + vehicle.max_charge_w * CHARGE_EFFICIENCY * dwell_h)


def met(vehicle: ScenarioVehicle, final_wh: float) -> bool:
    """docs/scenario.md: at least the target, or the most dwell and power allowed (half a percent
    of the target, at least 50 Wh, absorbs step rounding as the simulator does)."""
    target = vehicle.capacity_wh * vehicle.soc_target_percent / 100
    tolerance = max(50.0, 0.005 * target)
    return final_wh >= min(target, reachable_wh(vehicle)) - tolerance


@dataclass(frozen=True)
class Outcome:
    """One schedule's results."""

    departed: int
    departures_met: int
    short: tuple[str, ...]
    energy_delivered_wh: float
    dr_requested_wh: float
    dr_delivered_wh: float
    cost: float
    replay: ReplayResult

    @property
    def dr_percent(self) -> float:
        if self.dr_requested_wh <= 0:
            return 100.0
        return 100.0 * self.dr_delivered_wh / self.dr_requested_wh


def export_asked_w(scenario: Scenario, times: list[datetime]) -> np.ndarray:
    """The export each slot asks for: the largest ``export_w`` event covering at least
    half the slot (as the aggregator's dispatch target reads overlapping events)."""
    asked = np.zeros(len(times))
    step = timedelta(seconds=scenario.step_s)
    for event in scenario.dr_events:
        if event.kind != "export_w":
            continue
        for k, t in enumerate(times):
            overlap = (min(event.end, t + step) - max(event.start, t)).total_seconds()
            if overlap >= scenario.step_s / 2:
                asked[k] = max(asked[k], event.value_w)
    return asked


def evaluate(
    scenario: Scenario,
    schedule_w: dict[str, np.ndarray],
    bus_of: dict[str, int],
    replay: AcReplay,
) -> Outcome:
    """Apply ``schedule_w`` (W per vehicle per slot, + = charging) as the simulated
    batteries would and judge it."""
    times = slot_times(scenario)
    hours = scenario.step_s / 3600
    net_w = np.zeros(len(times))
    bus_power = np.zeros((len(times), len(replay.buses)))
    column = {b: k for k, b in enumerate(replay.buses)}
    departed = met_count = 0
    delivered = 0.0
    short: list[str] = []
    for vehicle in scenario.vehicles:
        energy = vehicle.capacity_wh * vehicle.soc_arrival_percent / 100
        start = energy
        plan = schedule_w.get(vehicle.id, np.zeros(len(times)))
        on = present(vehicle, times)
        for k in np.flatnonzero(on):
            power = float(plan[k])
            power = min(
                max(power, -vehicle.max_discharge_w if vehicle.v2g else 0.0), vehicle.max_charge_w
            )
            if energy + stored_wh(power, hours) > vehicle.capacity_wh:
                power = max(0.0, (vehicle.capacity_wh - energy) / hours / CHARGE_EFFICIENCY)
            elif energy + stored_wh(power, hours) < 0:
                power = -energy / hours * DISCHARGE_EFFICIENCY
            energy += stored_wh(power, hours)
            net_w[k] += power
            bus_power[k, column[bus_of[vehicle.id]]] += power
        if departs(vehicle, times):
            departed += 1
            target = vehicle.capacity_wh * vehicle.soc_target_percent / 100
            delivered += max(0.0, min(energy, target) - start)
            if met(vehicle, energy):
                met_count += 1
            else:
                short.append(vehicle.id)
    asked = export_asked_w(scenario, times)
    done = np.minimum(asked, np.maximum(0.0, -net_w))
    prices = np.array([scenario.prices.at(t) for t in times])
    factors = [scenario.base_load.at(t) for t in times]
    return Outcome(
        departed=departed,
        departures_met=met_count,
        short=tuple(short),
        energy_delivered_wh=delivered,
        dr_requested_wh=float(asked.sum() * hours),
        dr_delivered_wh=float(done.sum() * hours),
        cost=float(np.sum(prices * net_w) * hours / 1000),
        replay=replay.replay(factors, bus_power),
    )
