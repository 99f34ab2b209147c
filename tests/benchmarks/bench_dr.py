"""Benchmark: a DR event at the VEN -> new setpoints in every session's mailbox.

    .venv/bin/python -m tests.benchmarks.bench_dr [--network mv-oberrhein]
        [--vehicles 1000] [--rounds 30] [--slots 96]

1,000 connected V2G vehicles spread over the feeder's connection buses, the real
feeder model (``FeederGrid(AcGridCheck(load_network(...)))``), the aggregator
cycling on its own (``run``), setpoints through ``MailboxLink`` into one
``SetpointMailbox`` per EVSE, and the OpenADR 2.0b VEN's event handler (the
handler openleadr calls after parsing; the poll itself is excluded). Each round
sends a new event, times until every mailbox holds a setpoint of the plan that
includes it, then cancels it (timed the same way). Reports p50/p99/max of the
whole path and of its parts: intake (translate, opt-in check, store), the wait for
the cycle to start, planning, and posting. openleadr's XML parse of one
oadrDistributeEvent is timed separately (it belongs to the poll).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gridmodel import AcGridCheck, load_network
from v2g.aggregator import Aggregator, MailboxLink, Snapshot
from v2g.aggregator.intake import DemandResponseIntake
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.feeder import FeederGrid
from v2g.openadr.ven import Oadr2Ven, VenConfig
from v2g.secc.mailbox import SetpointMailbox
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.testing.fleet import FleetBuilder


def event(
    event_id: str, payload_kw: float, start: datetime, status: str = "far"
) -> dict[str, Any]:
    return {
        "event_descriptor": {
            "event_id": event_id,
            "modification_number": 0,
            "event_status": status,
        },
        "active_period": {"dtstart": start, "duration": timedelta(minutes=30)},
        "event_signals": [
            {
                "signal_name": "LOAD_DISPATCH",
                "signal_type": "setpoint",
                "intervals": [
                    {
                        "dtstart": start,
                        "duration": timedelta(minutes=30),
                        "uid": 0,
                        "signal_payload": payload_kw,
                    }
                ],
            }
        ],
        "response_required": "always",
    }


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):8.1f}  p99 {p99:8.1f}  max {ordered[-1]:8.1f}"


def xml_parse_ms() -> float:
    from openleadr.messaging import create_message, parse_message

    now = datetime.now(UTC)
    message = create_message(
        "oadrDistributeEvent",
        response={"response_code": 200, "response_description": "OK", "request_id": "r"},
        request_id="r",
        vtn_id="VTN",
        events=[
            {
                **event("x", -1000.0, now),
                "event_descriptor": {
                    "event_id": "x",
                    "modification_number": 0,
                    "event_status": "far",
                    "created_date_time": now,
                    "market_context": "oadr://bench",
                    "priority": 0,
                },
                "targets": [{"ven_id": "ven"}],
            }
        ],
    )
    started = time.perf_counter()
    for _ in range(20):
        parse_message(message)
    return (time.perf_counter() - started) / 20 * 1000


def build(
    network: Any, vehicles: int, slots: int
) -> tuple[Aggregator, dict[str, SetpointMailbox]]:
    """The aggregator over ``vehicles`` V2G cars spread over the feeder's buses."""
    grid = FeederGrid(AcGridCheck(network))
    buses = network.connection_buses()
    now = datetime.now(UTC)
    builder = FleetBuilder(now)
    for i in range(vehicles):
        builder.vehicle(
            f"{i:04d}",
            bus=buses[i % len(buses)],
            soc_percent=70,
            departure=now + timedelta(hours=10),
            max_charge_w=11_000,
            max_discharge_w=11_000,
            v2g=True,
            reserve_soc_percent=20,
        )
    mailboxes = {c.evse_id: SetpointMailbox() for c in builder.chargers}
    aggregator = Aggregator(
        builder.site,
        grid,
        MailboxLink(mailboxes),
        SystemClock(),
        PlannerSettings(slots=slots),
        plan_timeout_s=30,
    )
    for item in builder.events:
        aggregator.submit(item)
    return aggregator, mailboxes


async def main(network_name: str, vehicles: int, rounds: int, slots: int) -> None:
    network = load_network(network_name)
    buses = network.connection_buses()
    aggregator, mailboxes = build(network, vehicles, slots)
    with tempfile.TemporaryDirectory() as folder:
        engine = await open_store(sqlite_url(Path(folder) / "bench.db"))
        intake = DemandResponseIntake(aggregator, SqlEventStore(engine))
        ven = Oadr2Ven(VenConfig("http://127.0.0.1:9/OpenADR2/Simple/2.0b", "bench"), intake)
        arrived: asyncio.Queue[Snapshot] = asyncio.Queue()
        aggregator.subscribe(arrived.put_nowait)
        stop = asyncio.Event()
        cycling = asyncio.create_task(aggregator.run(3600, stop))
        first = await arrived.get()  # the first plan (warm-up)
        if first.plan is None:
            raise SystemExit(f"no first plan on {network_name}: {'; '.join(first.health)}")

        total, intake_ms, wait_ms, plan_ms = [], [], [], []
        strategies: dict[str, int] = {}

        async def timed(payload: dict[str, Any], wants: str) -> None:
            started = time.perf_counter()
            answer = await ven.handle_event(payload)
            handled = time.perf_counter()
            assert answer == "optIn", ven.decisions
            while True:
                snapshot = await arrived.get()
                if (wants in snapshot.state.events.events) == (not wants.startswith("-")):
                    break
            done = time.perf_counter()
            posted = [mailboxes[e].read() for e in snapshot.plan.setpoints]
            assert len(posted) == vehicles and all(
                p is snapshot.plan.setpoints[e]
                for e, p in zip(snapshot.plan.setpoints, posted, strict=True)
            )
            total.append((done - started) * 1000)
            intake_ms.append((handled - started) * 1000)
            plan_ms.append(snapshot.plan_ms)
            rest = (done - handled) * 1000 - snapshot.plan_ms
            wait_ms.append(rest)
            label = f"{snapshot.plan.strategy} {'; '.join(snapshot.plan.notes)}".strip()
            strategies[label] = strategies.get(label, 0) + 1

        for n in range(rounds):
            event_id = f"bench-{n}"
            await timed(event(event_id, -2000.0 - 10 * n, datetime.now(UTC)), event_id)
            await timed(event(event_id, 0.0, datetime.now(UTC), "cancelled"), "-" + event_id)
        stop.set()
        aggregator.wake()
        await cycling
        aggregator.close()
        await engine.dispose()

    print(
        f"network {network_name}: {len(buses)} connection buses, {vehicles} vehicles, "
        f"{slots} slots of 15 min, "
        f"{2 * rounds} DR changes (new event, then its cancellation), times in ms"
    )
    print(f"  event at VEN -> every mailbox   {percentiles(total)}")
    print(f"    VEN handler + intake (store)  {percentiles(intake_ms)}")
    print(f"    planner (worker thread)       {percentiles(plan_ms)}")
    print(f"    rest: wake, posting, publish  {percentiles(wait_ms)}  (overlaps the intake)")
    for label, count in strategies.items():
        print(f"  plans: {count} x {label}")
    print(f"  (poll path, excluded) openleadr XML parse of one event: {xml_parse_ms():.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", default="mv-oberrhein")
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--slots", type=int, default=96, help="planning horizon in 15-min slots")
    args = parser.parse_args()
    asyncio.run(main(args.network, args.vehicles, args.rounds, args.slots))
