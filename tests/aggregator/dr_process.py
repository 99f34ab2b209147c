"""A small aggregator + DR intake process on a SQLite store, for the restart test.

    python -m tests.aggregator.dr_process DB [ID:KIND:VALUE_W:START_S:END_S ...]

Events are given relative to start-up (seconds). Prints one JSON line per fact:
``ready``, ``reconciled``, ``outcome``, ``boundary`` and ``cycle``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

from v2g.aggregator import Aggregator, AggregatorState, RecordingLink, Snapshot
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.lifecycle import EventLifecycle, job_store_url
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.boundaries import SqlBoundaryStore
from v2g.store.measurements import SqlMeasurementStore
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid


def say(**fact: object) -> None:
    print(json.dumps(fact, default=str), flush=True)


async def main(db: Path, specs: list[str]) -> None:
    clock = SystemClock()
    now = clock.now()
    url = sqlite_url(db)
    engine = await open_store(url)
    events = SqlEventStore(engine)
    builder = v2g_pair(now, stay_h=8)
    settings = PlannerSettings(slot_s=60, slots=30, setpoint_valid_s=60)
    state = AggregatorState(events=await events.book())
    aggregator = Aggregator(
        builder.site, CapacityGrid(1e6), RecordingLink(), clock, settings, state=state
    )
    for event in builder.events:
        aggregator.submit(event)
    lifecycle = EventLifecycle(aggregator, SqlBoundaryStore(engine), job_store_url(url))
    lifecycle.subscribe(lambda b: say(boundary=b.key))
    ledger = MeasurementLedger(aggregator, SqlMeasurementStore(engine))
    await ledger.restore()
    intake = DemandResponseIntake(aggregator, events, lifecycle, ledger)

    def on_snapshot(snapshot: Snapshot) -> None:
        plan = snapshot.plan
        say(
            cycle=snapshot.cycle,
            at=snapshot.at.isoformat(),
            source=plan.target.sources[0] if plan else None,
            power_w=plan.power_now_w if plan else None,
            asked_wh={m.event_id: m.asked_wh for m in ledger.all()},
        )

    aggregator.subscribe(on_snapshot)
    decision = await lifecycle.start()
    say(
        reconciled={
            "handle": [b.key for b in decision.handle],
            "skip": [b.key for b in decision.skip],
            "resumed": list(decision.resumed),
            "finished": list(decision.finished),
        },
        pending=lifecycle.pending(),
    )
    ready = clock.now()
    say(ready=ready.isoformat())
    for spec in specs:
        event_id, kind, value, start_s, end_s = spec.split(":")
        event = DemandResponseEvent(
            event_id,
            ready + timedelta(seconds=float(start_s)),
            ready + timedelta(seconds=float(end_s)),
            kind,
            float(value),
        )
        outcome = await intake.receive(event, "test")
        say(outcome=outcome.reason, accepted=outcome.accepted)
    await aggregator.run(0.5, asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
