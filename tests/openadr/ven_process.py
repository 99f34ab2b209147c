"""An aggregator with 1,000 V2G cars behind an OpenADR 2.0b VEN, on a SQLite store,
for the restart test:

    python -m tests.openadr.ven_process DB VTN_URL

Start-up as a service must do it: events back from the store, the lifecycle
reconciled, the VEN registered and its events synced (openleadr asks the VTN for
them at once), and only then the control cycle. Prints one JSON line per fact:
``decision`` (answer, reason, whether a plan existed yet) and ``cycle``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.openadr.oadr3_process import fleet
from v2g.aggregator import Aggregator, AggregatorState, RecordingLink, Snapshot
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.lifecycle import EventLifecycle, job_store_url
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.openadr.ven import Oadr2Ven, VenConfig
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.boundaries import SqlBoundaryStore
from v2g.store.measurements import SqlMeasurementStore
from v2g.testing.grid import CapacityGrid


def say(**fact: object) -> None:
    print(json.dumps(fact, default=str), flush=True)


class TellingVen(Oadr2Ven):
    """The product's VEN, saying each answer and whether a plan existed yet."""

    aggregator: Aggregator

    async def handle_event(self, event: Mapping[str, Any]) -> str:
        answer = await super().handle_event(event)
        event_id = str(event.get("event_descriptor", {}).get("event_id"))
        say(
            decision=event_id,
            answer=answer,
            reason=self.decisions[event_id].reason,
            first_plan_made=self.aggregator.latest() is not None,
        )
        return answer


async def main(db: Path, vtn_url: str) -> None:
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
    config = VenConfig(vtn_url, "v2g-fleet", poll_interval_s=1, report_sampling_s=5)
    ven = TellingVen(config, intake)
    ven.aggregator = aggregator
    await ven.start()  # registers and syncs the VTN's events before the first plan
    say(ven=ven.status)
    await aggregator.run(1.0, asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
