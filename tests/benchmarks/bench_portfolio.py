"""Benchmark: a portfolio cycle on a local Ray cluster.

    .venv/bin/python -m tests.benchmarks.bench_portfolio --feeders 10 \\
        --vehicles-per-feeder 200 --workers 2 [--cycles 5] [--json]

``--feeders`` feeders on ``--networks`` in turn (default: the built-in LV networks and a
SimBench LV grid; for feeders of a thousand chargers, MV ones such as
``mv-oberrhein,simbench-mv-urban``), each with generated vehicles (plugged in now for 8-15 h,
70 % allowing V2G); ``--workers`` shard actors on a Ray cluster of that many CPUs
started in this process, the feeders dealt over them. A portfolio export event asks 3 kW
per vehicle for the next hour. After one warm-up cycle (grid models loaded, first
plans), each of ``--cycles`` cycles is timed: ``cycle_ms`` (envelopes in, split, every
shard plans, all gathered), ``shard_plan_ms`` (each feeder's own plan),
``coordinator_ms`` (the split LP), each p50 and p99; ``grid_violations`` (AC violations
over all plans), ``departures_met_percent`` (vehicles whose plan expects no departure
shortfall, from the planners' departure notes; also before the event),
``dr_placed_percent`` (of the target), the peak memory per shard worker and the load
average before and after. The machine may be shared: read the load average with the numbers.

``machines_for_2s``: how many machines like this one (its CPU count each, one shard
worker per CPU) plan such a portfolio within 2 s: each worker plans its feeders one
after another, each taking the p99 feeder plan plus this run's overhead per feeder
(the cycle's p50 times the workers over the feeders, less the p50 plan: envelopes,
Ray calls, gathering), within 2 s less the coordinator's p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tests.oracle.networks import NetworkFiles
from v2g.aggregator.state import SetPrices
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent
from v2g.portfolio.cluster import ray_shards, start_ray, stop_ray
from v2g.portfolio.config import ClusterConfig
from v2g.portfolio.coordinator import Portfolio, PortfolioSnapshot
from v2g.portfolio.shard import FeederSummary
from v2g.testing import FakeClock
from v2g.testing.portfolio import generated_feeder

#: The built-in LV networks and a SimBench LV grid (1-LV-urban6--0-sw, written to a
#: pandapower file on first use), dealt to the feeders in turn (``--networks``).
NETWORKS = ("cigre-lv", "kerber-dorf", "ieee-eu-lv", "simbench-lv-urban6")
NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0}
    return {
        "p50": round(float(np.percentile(values, 50)), 1),
        "p99": round(float(np.percentile(values, 99)), 1),
    }


def _short(summary: FeederSummary) -> int:
    """Vehicles a plan expects to leave short (``departure: N vehicles ...`` notes)."""
    count = 0
    for note in summary.notes:
        if note.startswith("departure:"):
            many = re.match(r"departure: (\d+) vehicles", note)
            count += int(many.group(1)) if many else 1
    return count


def _met_percent(snapshot: PortfolioSnapshot, vehicles: int) -> float:
    return round(100.0 * (1 - sum(_short(s) for s in snapshot.feeders.values()) / vehicles), 2)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    clock = FakeClock(NOW)
    files = NetworkFiles.default()
    networks = args.networks.split(",")
    feeders = [
        generated_feeder(
            f"f{i:03d}", files.spec(networks[i % len(networks)]), args.vehicles_per_feeder, NOW, i
        )
        for i in range(args.feeders)
    ]
    shards = ray_shards([f for f, _ in feeders], args.workers, clock)
    prices = SetPrices(StepCurve.of([(NOW, 0.40), (NOW + timedelta(hours=4), 0.15)]))
    events = {feeder.name: [*items, prices] for feeder, items in feeders}
    for shard in shards:
        await shard.submit_all({name: events[name] for name in shard.feeders})
    portfolio = Portfolio(shards, clock, deadline_s=args.deadline_s)
    warm = await portfolio.cycle()  # warm-up: grid models loaded, first plans, envelopes
    vehicles = args.feeders * args.vehicles_per_feeder
    target_w = 3_000.0 * vehicles
    event = DemandResponseEvent("evt-bench", NOW, NOW + timedelta(hours=1), "export_w", target_w)
    assert portfolio.submit(event).accepted
    snapshots: list[PortfolioSnapshot] = [await portfolio.cycle() for _ in range(args.cycles)]
    plans = [s for snapshot in snapshots for s in snapshot.feeders.values()]
    last = snapshots[-1]
    memory = [await shard.peak_rss_mb() for shard in shards]
    return {
        "feeders": args.feeders,
        "vehicles_per_feeder": args.vehicles_per_feeder,
        "workers": args.workers,
        "cycles": args.cycles,
        "cycle_ms": _percentiles([s.cycle_ms for s in snapshots]),
        "shard_plan_ms": _percentiles([s.plan_ms for s in plans]),
        "coordinator_ms": _percentiles([s.coordinator_ms for s in snapshots]),
        "grid_violations": sum(len(s.violations) for s in plans),
        "departures_met_percent": _met_percent(last, vehicles),
        # The same before the DR event: what the grids allow without it (the planner
        # puts departures before DR, so the two should match).
        "departures_met_percent_without_dr": _met_percent(warm, vehicles),
        "dr_target_w": target_w,
        "dr_placed_percent": round(100.0 * last.splits[event.id].placed_w / target_w, 2),
        "shards_cut": sum(len(s.cut) for s in snapshots),
        "shard_peak_rss_mb": [round(m, 1) for m in memory],
    }


def machines_for_2s(result: dict[str, Any], cpus: int) -> dict[str, float]:
    """The module docstring's estimate, from a run's ``result``."""
    feeders, workers = result["feeders"], result["workers"]
    plan, cycle = result["shard_plan_ms"], result["cycle_ms"]
    overhead_ms = max(0.0, cycle["p50"] * workers / feeders - plan["p50"])
    per_worker = max(
        1, int((2000.0 - result["coordinator_ms"]["p99"]) // (plan["p99"] + overhead_ms))
    )
    workers_needed = -(-feeders // per_worker)
    return {
        "overhead_per_feeder_ms": round(overhead_ms, 1),
        "feeders_per_worker": per_worker,
        "workers": workers_needed,
        "machines": -(-workers_needed // cpus),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeders", type=int, default=10)
    parser.add_argument("--vehicles-per-feeder", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--deadline-s", type=float, default=60.0)
    parser.add_argument(
        "--networks",
        default=",".join(NETWORKS),
        help="networks dealt to the feeders in turn (built-in names or simbench-lv-urban6)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = _load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as temp:
        start_ray(ClusterConfig(num_cpus=args.workers), Path(temp))
        try:
            result = asyncio.run(_run(args))
        finally:
            stop_ray()
    cpus = os.cpu_count() or 1
    result["machines_for_2s"] = machines_for_2s(result, cpus)
    result |= {
        "load_average_before": load_before,
        "load_average_after": _load(),
        "cpus": os.cpu_count(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.json:
        json.dump(result, sys.stdout)
        print()
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
