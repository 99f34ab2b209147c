"""A shard: one or more feeders, each with its warm grid model and its own Aggregator
(fleet state, DR book, planner), in one process. On a cluster each shard is a Ray
actor (``v2g.portfolio.cluster``); this class itself knows nothing of Ray, so the
tests of its logic and a single process can use it as it is.

The planner's priority order (grid, departures, DR, price) holds per feeder: the
portfolio's DR reaches a feeder only as that feeder's own DR event (its share), which
its planner weighs like any other.
"""

from __future__ import annotations

import os
import resource
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from gridmodel import AcGridCheck, load_network
from v2g.aggregator import Aggregator, MailboxLink
from v2g.aggregator.state import Input
from v2g.clock import Clock, SystemClock
from v2g.demand_response import Outcome
from v2g.dispatch import DispatchPlan, PlannerSettings
from v2g.feeder import FeederGrid
from v2g.fleet import FleetMember
from v2g.portfolio.config import FeederConfig
from v2g.portfolio.split import PublishedEnvelope
from v2g.secc.mailbox import SetpointMailbox
from v2g.service.assembly import site_of
from v2g.session import Setpoint


@dataclass(frozen=True, slots=True)
class FeederSummary:
    """One feeder's cycle as the coordinator and the API see it."""

    feeder: str
    network: str
    vehicles: int
    plan_ms: float
    #: Setpoints by EVSE id (W, + = charging) for the current slot.
    setpoints_w: Mapping[str, float] = field(default_factory=dict)
    #: The AC check of slot 0 as dispatched (None: no plan yet).
    grid_ok: bool | None = None
    violations: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    health: tuple[str, ...] = ()
    strategy: str = ""
    #: The plan's energy cost over its horizon at the feeder's prices (currency units).
    energy_cost: float = 0.0
    envelope: PublishedEnvelope | None = None
    #: The plan's net fleet power per slot (W), as a range of width 0.
    planned: PublishedEnvelope | None = None
    #: The setpoints in full (power, limits, ``valid_until``) by EVSE id: what the
    #: portfolio's CSMS sends its stations.
    setpoints: Mapping[str, Setpoint] = field(default_factory=dict)

    def export_w(self, start: datetime, end: datetime) -> float:
        """The discharge (W, >= 0) this plan holds through ``start``..``end``."""
        return 0.0 if self.planned is None else self.planned.export_offer_w(start, end)

    @property
    def power_now_w(self) -> float:
        return float(sum(self.setpoints_w.values()))

    def as_dict(self) -> dict[str, object]:
        envelope = self.envelope
        return {
            "feeder": self.feeder,
            "network": self.network,
            "vehicles": self.vehicles,
            "plan_ms": round(self.plan_ms, 1),
            "power_now_w": round(self.power_now_w, 1),
            "grid_ok": self.grid_ok,
            "violations": list(self.violations),
            "notes": list(self.notes),
            "health": list(self.health),
            "strategy": self.strategy,
            "energy_cost": round(self.energy_cost, 4),
            "envelope": None
            if envelope is None
            else {
                "slot_starts": [b.isoformat() for b in envelope.bounds[:-1]],
                "lower_w": [round(v, 1) for v in envelope.lower_w],
                "upper_w": [round(v, 1) for v in envelope.upper_w],
            },
        }


def energy_cost(plan: DispatchPlan, prices: Sequence[float]) -> float:
    """Planned energy (kWh per slot) times each slot's price."""
    energy_kwh = np.asarray(plan.fleet_power_w) * plan.horizon.hours[: len(plan.fleet_power_w)]
    return float(np.dot(energy_kwh / 1000.0, np.asarray(prices[: len(energy_kwh)])))


def bound(plan: DispatchPlan, members: Mapping[str, FleetMember]) -> dict[str, Setpoint]:
    """The plan's setpoints bound to the sessions they were planned for, as the
    aggregator posts them to its own link: a station applies each to that session only."""
    return {
        evse_id: setpoint.for_session(member.session_id)
        for evse_id, setpoint in plan.setpoints.items()
        if (member := members.get(evse_id)) is not None
    }


def _aggregator(feeder: FeederConfig, clock: Clock) -> Aggregator:
    config = feeder.site
    network = load_network(config.network, config.limits)
    site = site_of(config, network)
    return Aggregator(
        site,
        FeederGrid(AcGridCheck(network)),
        MailboxLink({evse_id: SetpointMailbox() for evse_id in site.chargers}),
        clock,
        PlannerSettings(
            slot_s=config.slot_s,
            slots=config.horizon_slots,
            setpoint_valid_s=config.setpoint_valid_s,
        ),
        plan_timeout_s=config.plan_timeout_s,
    )


class FeederShard:
    """The feeders of one shard, each planned by its own Aggregator."""

    def __init__(self, feeders: Sequence[FeederConfig], clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._networks = {f.name: f.site.network for f in feeders}
        self._aggregators = {f.name: _aggregator(f, self._clock) for f in feeders}

    def feeders(self) -> list[str]:
        return list(self._aggregators)

    def submit(self, feeder: str, item: Input) -> Outcome:
        """Session events, DR events, prices or a fleet cap for ``feeder``."""
        aggregator = self._aggregators.get(feeder)
        if aggregator is None:
            return Outcome(False, f"feeder {feeder!r} is not on this shard")
        return aggregator.submit(item)

    def submit_all(self, items: Mapping[str, Sequence[Input]]) -> list[Outcome]:
        return [self.submit(feeder, item) for feeder, batch in items.items() for item in batch]

    def envelopes(self) -> dict[str, PublishedEnvelope | None]:
        """Each feeder's fleet envelope from its last plan (None before one)."""
        found: dict[str, PublishedEnvelope | None] = {}
        for name, aggregator in self._aggregators.items():
            snapshot = aggregator.latest()
            plan = snapshot.plan if snapshot else None
            found[name] = None if plan is None else PublishedEnvelope.of(plan.envelope)
        return found

    async def plan(
        self, orders: Mapping[str, Sequence[Input]] | None = None
    ) -> list[FeederSummary]:
        """Fold ``orders`` (each feeder's DR share, cap), then plan every feeder."""
        self.submit_all(orders or {})
        return [await self._cycle(name, a) for name, a in self._aggregators.items()]

    async def _cycle(self, name: str, aggregator: Aggregator) -> FeederSummary:
        snapshot = await aggregator.cycle()
        plan = snapshot.plan
        vehicles = len(snapshot.state.fleet.members)
        if plan is None:
            return FeederSummary(
                name, self._networks[name], vehicles, snapshot.plan_ms, health=snapshot.health
            )
        prices = snapshot.state.prices.sample(
            plan.horizon.slot_start(i) for i in range(plan.horizon.slots)
        )
        verdict = plan.verdict
        return FeederSummary(
            feeder=name,
            network=self._networks[name],
            vehicles=vehicles,
            plan_ms=snapshot.plan_ms,
            setpoints_w={e: s.power_w for e, s in plan.setpoints.items()},
            grid_ok=None if verdict is None else verdict.ok,
            violations=()
            if verdict is None
            else tuple(
                f"{v.element} {v.metric} {v.value:g} > {v.limit:g}" for v in verdict.violations
            ),
            notes=plan.notes,
            health=snapshot.health,
            strategy=plan.strategy,
            energy_cost=energy_cost(plan, list(prices)),
            envelope=PublishedEnvelope.of(plan.envelope),
            planned=PublishedEnvelope.of_power(plan.horizon, plan.fleet_power_w),
            setpoints=bound(plan, snapshot.state.fleet.members),
        )

    def dr_event_ids(self, feeder: str) -> list[str]:
        """The DR events ``feeder``'s planner holds (its shares of the portfolio's)."""
        aggregator = self._aggregators.get(feeder)
        snapshot = None if aggregator is None else aggregator.latest()
        return [] if snapshot is None else sorted(snapshot.state.events.events)

    def placement(self) -> tuple[str, int]:
        """The machine (host name) and the process this shard runs in."""
        return socket.gethostname(), os.getpid()

    def pid(self) -> int:
        """The process this shard runs in (on a cluster: its Ray worker)."""
        return os.getpid()

    def peak_rss_mb(self) -> float:
        """This process's peak resident memory (MB): a shard's memory on its worker."""
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    def close(self) -> None:
        for aggregator in self._aggregators.values():
            aggregator.close()
