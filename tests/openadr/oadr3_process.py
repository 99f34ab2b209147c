"""An aggregator with 1,000 V2G cars following an OpenADR 3 VTN, on a SQLite store,
for the restart test:

    python -m tests.openadr.oadr3_process DB VTN_BASE_URL

Start-up as a service must do it: events back from the store, the lifecycle
reconciled, the OpenADR 3 client caught up with the VTN (deletions made while we were
down, events we hold), and only then the first plan. Prints one JSON line per fact:
``caught_up``, ``cycle`` (plan sources and power), ``outcomes``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp

from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET
from v2g.aggregator import Aggregator, AggregatorState, RecordingLink, Snapshot
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.lifecycle import EventLifecycle, job_store_url
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.openadr.oadr3_client import CHANNEL, Oadr3Client, Oadr3Config
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.boundaries import SqlBoundaryStore
from v2g.store.channels import event_ids_from
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


async def main(db: Path, base_url: str) -> None:
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
    config = Oadr3Config(base_url, CLIENT_ID, CLIENT_SECRET, poll_interval_s=0.5)
    async with aiohttp.ClientSession() as session:
        client = Oadr3Client(config, intake, clock, session)
        ok = await client.catch_up(await event_ids_from(engine, CHANNEL))
        say(
            caught_up=ok,
            held=sorted(aggregator.state.events.events),
            cancelled=sorted(aggregator.state.events.cancelled),
            first_plan_made=aggregator.latest() is not None,
            answers=client.answers,
            error=client.health.last_error,
        )
        stop = asyncio.Event()
        following = asyncio.create_task(client.run(stop))
        await aggregator.run(1.0, stop)
        await following


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
