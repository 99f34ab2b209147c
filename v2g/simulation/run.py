"""Run a scenario in simulated time with the real aggregator, planner and grid check.

Each step: vehicles arrive and leave (as session events submitted to the
aggregator), one control cycle plans and posts setpoints, every vehicle follows its
setpoint the way the SECC would
(``power_to_apply``: clamped to its limits, a stale setpoint never discharges), the
batteries move, and the AC check judges the power that actually flowed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from gridmodel import GridVerdict, Injection
from v2g.aggregator import Aggregator, AggregatorState, RecordingLink, Snapshot
from v2g.aggregator.state import SetArrivalProfile, SetExpected
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.measurement import rates
from v2g.dispatch import DispatchPlan, GridModel, PlannerSettings, plan_dispatch
from v2g.dispatch.baselines import Planner
from v2g.envelope import Efficiency
from v2g.fleet import Charger, ExpectedArrival, Fleet, OwnerPolicy, Site
from v2g.limits import Limit
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TransferLimits,
    power_to_apply,
)
from v2g.simulation.scenario import Scenario, ScenarioVehicle
from v2g.testing import FakeClock

#: The power an EVSE runs at without a setpoint (the SECC's fallback): charge on.
FALLBACK = Limit(0.0, "no plan")


class SetpointRow(NamedTuple):
    """One vehicle's setpoint in one step. A tuple of plain values, so the collector
    stops tracking it: a 10,000-vehicle run logs 10,000 a step."""

    time: datetime
    vehicle_id: str
    power_w: float
    binding_limit: str


@dataclass(frozen=True, slots=True)
class GridRow:
    time: datetime
    verdict: GridVerdict


@dataclass(frozen=True, slots=True)
class Departure:
    """How a vehicle left: energy on board against its target and what was possible."""

    vehicle_id: str
    arrival_wh: float
    final_wh: float
    target_wh: float
    reachable_wh: float

    @property
    def met(self) -> bool:
        # Half a percent of the target (at least 50 Wh) absorbs step rounding.
        tolerance = max(50.0, 0.005 * self.target_wh)
        return self.final_wh >= min(self.target_wh, self.reachable_wh) - tolerance


@dataclass
class SimulationLog:
    """Everything a run produced, step by step."""

    setpoints: list[SetpointRow] = field(default_factory=list)
    grid: list[GridRow] = field(default_factory=list)
    fleet_power_w: list[tuple[datetime, float]] = field(default_factory=list)
    soc_percent: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    departures: list[Departure] = field(default_factory=list)
    dr_requested_wh: float = 0.0
    dr_delivered_wh: float = 0.0
    #: Energy the fleet moved beyond what active DR events asked (e.g. discharging
    #: more than asked because the price paid for it), Wh >= 0.
    dr_beyond_ask_wh: float = 0.0
    #: Energy the fleet discharged into the grid over the run (net), Wh >= 0.
    exported_wh: float = 0.0
    energy_cost: float = 0.0
    plan_ms: list[float] = field(default_factory=list)
    strategies: dict[str, int] = field(default_factory=dict)
    #: Cycles whose plan failed or came late (the last safe plan stayed), and why.
    failed_cycles: list[str] = field(default_factory=list)
    #: The last plan note that named each vehicle (why it may leave short).
    last_note: dict[str, str] = field(default_factory=dict)


def site_of(scenario: Scenario, bus_of: Callable[[str | int], int]) -> Site:
    """One EVSE per vehicle (``evse-<vehicle id>``) at the vehicle's bus."""
    chargers = [
        Charger(f"evse-{v.id}", bus_of(v.bus), v.max_charge_w, v.max_discharge_w)
        for v in scenario.vehicles
    ]
    policies = {
        v.id: OwnerPolicy(
            v2g_allowed=v.v2g,
            reserve_soc_percent=v.soc_reserve_percent,
            accept_shortfall=v.accepts_shortfall,
        )
        for v in scenario.vehicles
    }
    return Site.of(chargers, policies=policies)


def booked_arrivals(scenario: Scenario, site: Site) -> tuple[ExpectedArrival, ...]:
    """The booked vehicles as the planner expects them: each comes at its arrival
    (a car plugged in at its EVSE from then on is it) and needs the energy from its
    arrival state of charge to its target."""
    return tuple(
        ExpectedArrival(
            charger=site.chargers[f"evse-{v.id}"],
            arrives_at=v.arrival,
            departs_at=v.departure,
            energy_wh=v.capacity_wh * max(0.0, v.soc_target_percent - v.soc_arrival_percent) / 100,
            source=f"booking {v.id}",
            arrived_since=v.arrival,
            gone_at=v.departure,
        )
        for v in scenario.vehicles
        if v.booked
    )


class _Vehicles:
    """The simulated batteries and their sessions."""

    def __init__(self, scenario: Scenario, site: Site, efficiency: Efficiency) -> None:
        self.scenario = scenario
        self.site = site
        self.efficiency = efficiency
        self.energy_wh = {
            v.id: v.capacity_wh * v.soc_arrival_percent / 100 for v in scenario.vehicles
        }
        self.present: dict[str, ScenarioVehicle] = {}
        self.applied_w: dict[str, float] = {}
        self.done: set[str] = set()

    def events(self, now: datetime, log: SimulationLog) -> list[SessionEvent]:
        """The session events of this step: departures, then arrivals (each arrival
        reports its limits and needs as an ISO 15118-20 vehicle would)."""
        happened: list[SessionEvent] = []
        for vehicle in self.scenario.vehicles:
            evse = f"evse-{vehicle.id}"
            session = f"sim-{vehicle.id}"
            if vehicle.id in self.present and now >= vehicle.departure:
                happened.append(SessionEnded(evse, session, now, "departed"))
                del self.present[vehicle.id]
                self.done.add(vehicle.id)
                log.departures.append(self._departure(vehicle))
            elif (
                vehicle.id not in self.present
                and vehicle.id not in self.done
                and vehicle.arrival <= now < vehicle.departure
            ):
                self.present[vehicle.id] = vehicle
                limits = TransferLimits(
                    vehicle.max_charge_w,
                    discharge=DischargeLimits(vehicle.max_discharge_w)
                    if vehicle.max_discharge_w > 0
                    else None,
                )
                needs = ChargeNeeds(
                    reported_at=now,
                    departure=vehicle.departure,
                    soc_percent=self.soc(vehicle),
                    target_soc_percent=vehicle.soc_target_percent,
                    battery_capacity_wh=vehicle.capacity_wh,
                )
                happened += [
                    SessionStarted(evse, session, now, vehicle.id, "simulated"),
                    LimitsReported(evse, session, now, limits),
                    NeedsReported(evse, session, now, needs),
                ]
        return happened

    def soc(self, vehicle: ScenarioVehicle) -> float:
        return min(max(100 * self.energy_wh[vehicle.id] / vehicle.capacity_wh, 0.0), 100.0)

    def _departure(self, vehicle: ScenarioVehicle) -> Departure:
        arrival = vehicle.capacity_wh * vehicle.soc_arrival_percent / 100
        dwell_h = (vehicle.departure - vehicle.arrival).total_seconds() / 3600
        target = vehicle.capacity_wh * vehicle.soc_target_percent / 100
        reachable = min(
            vehicle.capacity_wh, arrival + vehicle.max_charge_w * self.efficiency.charge * dwell_h
        )
        return Departure(vehicle.id, arrival, self.energy_wh[vehicle.id], target, reachable)


def default_settings(scenario: Scenario) -> PlannerSettings:
    """Slots of one step, looking 12 hours ahead (at most 96 slots)."""
    return PlannerSettings(
        slot_s=scenario.step_s,
        slots=max(1, min(96, round(12 * 3600 / scenario.step_s))),
        setpoint_valid_s=2 * scenario.step_s,
    )


def scenario_aggregator(
    scenario: Scenario,
    grid: GridModel,
    bus_of: Callable[[str | int], int],
    settings: PlannerSettings | None = None,
    plan_timeout_s: float = 600.0,
    planner: Planner = plan_dispatch,
) -> tuple[Aggregator, FakeClock, RecordingLink]:
    """The real aggregator on ``scenario``'s site, in simulated time: a clock the run
    moves, a link that keeps the setpoints for the simulated SECCs, the scenario's
    prices and base load (DR events arrive through ``run_scenario``)."""
    clock = FakeClock(scenario.start)
    link = RecordingLink()
    state = AggregatorState(prices=scenario.prices, base_load=scenario.base_load)
    aggregator = Aggregator(
        site_of(scenario, bus_of),
        grid,
        link,
        clock,
        settings or default_settings(scenario),
        state,
        plan_timeout_s=plan_timeout_s,
        planner=planner,
    )
    return aggregator, clock, link


EventSink = Callable[[SessionEvent], Awaitable[None]]


async def _no_sink(_event: SessionEvent) -> None:
    return None


async def run_scenario(
    scenario: Scenario,
    aggregator: Aggregator,
    clock: FakeClock,
    link: RecordingLink,
    *,
    on_session_event: EventSink = _no_sink,
    progress: Callable[[int, int], None] | None = None,
    pace_s: float = 0.0,
    timer: Callable[[], float] | None = None,
) -> SimulationLog:
    """Step through ``scenario`` with ``aggregator``: each step the vehicles' session
    events go to it, one control cycle runs, every vehicle follows the setpoint in
    its link as the SECC would, and the AC check judges the power that flowed.
    ``pace_s`` waits that long (wall clock) per step, for a watched demo. Plan time
    is the cycle's own measure, or the whole cycle's by ``timer`` (seconds) if given."""
    if any(v.booked for v in scenario.vehicles):
        aggregator.submit(SetExpected(booked_arrivals(scenario, aggregator.site)))
    if scenario.arrivals is not None:
        aggregator.submit(SetArrivalProfile(scenario.arrivals))
    for dr_event in scenario.dr_events:
        # The caller may have sent them through the DR intake already (the demo does).
        if dr_event.id not in aggregator.state.events.events:
            aggregator.submit(dr_event)
    grid = aggregator.grid
    vehicles = _Vehicles(scenario, aggregator.site, aggregator.settings.efficiency)
    log = SimulationLog()
    moments = step_moments(scenario, aggregator.state.events.events.values())
    steps = len(moments) - 1
    for step, now in enumerate(moments[:-1]):
        step_h = (moments[step + 1] - now).total_seconds() / 3600
        clock.advance((now - clock.now()).total_seconds())
        events: list[SessionEvent] = vehicles.events(now, log)
        events += [
            PowerMeasured(
                member.evse_id,
                member.session_id,
                now,
                vehicles.applied_w.get(member.evse_id, 0.0),
                vehicles.soc(vehicles.present[member.ev_id or ""]),
            )
            for member in aggregator.state.fleet
            if member.ev_id in vehicles.present
        ]
        for event in events:
            outcome = aggregator.submit(event)
            if not outcome.accepted:
                raise RuntimeError(f"simulated session event refused: {outcome.reason}")
            if not isinstance(event, PowerMeasured):
                await on_session_event(event)
        started = timer() if timer else 0.0
        snapshot = await aggregator.cycle()
        plan = snapshot.plan
        log.plan_ms.append((timer() - started) * 1000 if timer else snapshot.plan_ms)
        failures = [h for h in snapshot.health if h.startswith(("planning failed", "plan late"))]
        if failures or plan is None:
            # As the service does: the cycle failed closed, the vehicles go on with the
            # setpoints they have (or their fallback), and the run goes on.
            log.failed_cycles.append(f"{now.isoformat()}: {'; '.join(failures) or 'no plan'}")
        else:
            log.strategies[plan.strategy] = log.strategies.get(plan.strategy, 0) + 1
            _remember_notes(plan, log)
        fleet = snapshot.state.fleet
        net_w = _follow(link, fleet, vehicles, now, step_h, log)
        # The vehicles' meters: the power each applies from now on (the aggregator got
        # the one applied until now, before the cycle), as the stored meter values
        # that M&V integrates (v2g.demand_response.metering).
        for member in fleet:
            if member.evse_id in vehicles.applied_w:
                await on_session_event(
                    PowerMeasured(
                        member.evse_id, member.session_id, now, vehicles.applied_w[member.evse_id]
                    )
                )
        injections = [*grid.base_injections(scenario.base_load.at(now))]
        for member in fleet:
            injections.append(
                Injection(member.charger.bus, vehicles.applied_w.get(member.evse_id, 0.0))
            )
        log.grid.append(GridRow(now, grid.check([i for i in injections if i.power_w])))
        log.fleet_power_w.append((now, net_w))
        log.energy_cost += scenario.prices.at(now) * net_w * step_h / 1000
        log.exported_wh += max(0.0, -net_w) * step_h
        _measure_dr(snapshot, net_w, step_h, log)
        if progress:
            progress(step + 1, steps)
        if pace_s > 0:
            await asyncio.sleep(pace_s)
    return log


def step_moments(scenario: Scenario, events: Iterable[DemandResponseEvent]) -> list[datetime]:
    """When the simulated cycles run, and the end: every ``step_s`` from the start, and
    at each DR event's start and end as the service's cycle wakes there
    (``Aggregator.next_wait_s``); a step lasts until the next moment."""
    steps = int((scenario.end - scenario.start).total_seconds() // scenario.step_s)
    regular = [scenario.start + timedelta(seconds=k * scenario.step_s) for k in range(steps + 1)]
    last = regular[-1]
    boundaries = [m for e in events for m in (e.start, e.end) if scenario.start < m < last]
    return sorted(set(regular + boundaries))


def simulate(
    scenario: Scenario,
    grid: GridModel,
    bus_of: Callable[[str | int], int],
    settings: PlannerSettings | None = None,
    timer: Callable[[], float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    planner: Planner = plan_dispatch,
) -> SimulationLog:
    """Run ``scenario`` on ``grid`` with the real aggregator (``run_scenario``) and
    ``planner`` (the aggregator's, or a baseline rule for comparison). ``timer``
    (seconds) measures plan time when given."""

    async def run() -> SimulationLog:
        aggregator, clock, link = scenario_aggregator(
            scenario, grid, bus_of, settings, planner=planner
        )
        try:
            return await run_scenario(
                scenario, aggregator, clock, link, progress=progress, timer=timer
            )
        finally:
            aggregator.close()

    return asyncio.run(run())


def _follow(
    link: RecordingLink,
    fleet: Fleet,
    vehicles: _Vehicles,
    now: datetime,
    step_h: float,
    log: SimulationLog,
) -> float:
    """Every vehicle follows the latest setpoint in its mailbox as the SECC applies it
    (a stale one falls back without discharging); batteries move."""
    net = 0.0
    vehicles.applied_w = {}
    for member in fleet:
        vehicle = vehicles.present[member.ev_id or ""]
        applied = power_to_apply(link.latest(member.evse_id), now, member.power_bounds(), FALLBACK)
        power = applied.power_w
        energy = vehicles.energy_wh[vehicle.id]
        # The battery's own management stops at full and at empty.
        stored = vehicles.efficiency.stored_wh(power, step_h)
        if energy + stored > vehicle.capacity_wh:
            power = max(0.0, (vehicle.capacity_wh - energy) / step_h / vehicles.efficiency.charge)
        elif energy + stored < 0:
            power = -energy / step_h * vehicles.efficiency.discharge
        vehicles.energy_wh[vehicle.id] = energy + vehicles.efficiency.stored_wh(power, step_h)
        vehicles.applied_w[member.evse_id] = power
        net += power
        log.setpoints.append(SetpointRow(now, vehicle.id, power, applied.source))
        log.soc_percent.setdefault(vehicle.id, []).append((now, vehicles.soc(vehicle)))
    return net


def _remember_notes(plan: DispatchPlan, log: SimulationLog) -> None:
    for note in plan.notes:
        for evse_id in plan.setpoints:
            if evse_id in note:
                log.last_note[evse_id.removeprefix("evse-")] = note


def _measure_dr(snapshot: Snapshot, net_w: float, step_h: float, log: SimulationLog) -> None:
    """DR energy asked and delivered in this step for every event, by the one M&V rule
    (``v2g.demand_response.measurement.rates``: against the plan without DR events,
    the baseline), from the power the simulated vehicles applied (their meters) over
    exactly the part of the step the event's window covers; a step is credited with
    at most what it asked."""
    plan = snapshot.plan
    baseline = None if plan is None or plan.baseline_w is None else float(plan.baseline_w[0])
    step_end = snapshot.at + timedelta(hours=step_h)
    for event in snapshot.state.events.events.values():
        covered = min(step_end, event.end) - max(snapshot.at, event.start)
        hours = covered.total_seconds() / 3600
        if hours > 0:
            asked, done = rates(event, net_w, baseline)
            log.dr_requested_wh += asked * hours
            log.dr_delivered_wh += min(asked, max(0.0, done)) * hours
            log.dr_beyond_ask_wh += max(0.0, done - asked) * hours
