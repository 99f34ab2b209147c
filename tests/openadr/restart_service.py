"""What the OpenADR restart processes share: 1,000 V2G cars, an aggregator restored
from a SQLite store (DR events, lifecycle, M&V ledger) as `v2g serve` restores it, and
one JSON line per fact on stdout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.aggregator import Aggregator, AggregatorState, RecordingLink, Snapshot
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.lifecycle import EventLifecycle, job_store_url
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.boundaries import SqlBoundaryStore
from v2g.store.measurements import SqlMeasurementStore
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

VEHICLES = 1000


def say(**fact: object) -> None:
    print(json.dumps(fact, default=str), flush=True)


def fleet(clock: SystemClock) -> FleetBuilder:
    now = clock.now()
    builder = FleetBuilder(now)
    for i in range(VEHICLES):
        builder.vehicle(
            f"{i:04d}",
            soc_percent=70,
            departure=now + timedelta(hours=10),
            max_charge_w=11_000,
            max_discharge_w=11_000,
            v2g=True,
        )
    return builder


@dataclass
class Restored:
    clock: SystemClock
    engine: AsyncEngine
    aggregator: Aggregator
    intake: DemandResponseIntake


async def restored(db: Path) -> Restored:
    """The aggregator back from the store at ``db``, its lifecycle started and every
    published cycle said; no plan has run yet."""
    clock = SystemClock()
    url = sqlite_url(db)
    engine = await open_store(url)
    events = SqlEventStore(engine)
    builder = fleet(clock)
    aggregator = Aggregator(
        builder.site,
        CapacityGrid(1e9),
        RecordingLink(),
        clock,
        PlannerSettings(slot_s=300, slots=12, setpoint_valid_s=120),
        state=AggregatorState(events=await events.book()),
    )
    for event in builder.events:
        aggregator.submit(event)
    lifecycle = EventLifecycle(aggregator, SqlBoundaryStore(engine), job_store_url(url))
    ledger = MeasurementLedger(aggregator, SqlMeasurementStore(engine))
    await ledger.restore()
    intake = DemandResponseIntake(aggregator, events, lifecycle, ledger)

    def on_snapshot(snapshot: Snapshot) -> None:
        plan = snapshot.plan
        say(
            cycle=snapshot.cycle,
            sources=sorted({s for s in plan.target.sources if s}) if plan else None,
            power_w=plan.power_now_w if plan else None,
        )

    aggregator.subscribe(on_snapshot)
    await lifecycle.start()
    return Restored(clock, engine, aggregator, intake)
