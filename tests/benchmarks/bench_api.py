"""Benchmark: the operator API under load, and ``v2g demo`` wall time.

    .venv/bin/python -m tests.benchmarks.bench_api [--vehicles 1000] [--seconds 10]
        [--concurrency 16] [--skip-demo]

Serves the API (real aggregator with ``--vehicles`` connected cars planned once, SQLite
store, token auth) from this process on loopback, and loads ``GET /api/v1/plan`` and
``GET /api/v1/fleet`` from a second process (aiohttp client, ``--concurrency``
requests in flight for ``--seconds`` each): requests per second and latency
percentiles. Then times ``v2g demo --json`` on its defaults in a fresh process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


async def load(url: str, token: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """The load generator (runs in the second process)."""
    latencies: list[float] = []
    errors = 0
    sizes: set[int] = set()
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status != 200:
                    errors += 1
                sizes.add(len(body))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "errors": errors,
        "requests_per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(1000 * ordered[len(ordered) // 2], 2),
        "p99_ms": round(1000 * ordered[int(len(ordered) * 0.99)], 2),
        "max_ms": round(1000 * ordered[-1], 2),
        "body_bytes": max(sizes),
    }


async def serve_and_measure(args: argparse.Namespace) -> dict[str, Any]:
    from v2g.aggregator import Aggregator, RecordingLink
    from v2g.api.app import make_app
    from v2g.api.ratelimit import RateLimit
    from v2g.api.services import open_services, provide
    from v2g.dispatch import PlannerSettings
    from v2g.store import SqlTokenStore, open_store, sqlite_url
    from v2g.testing import FakeClock
    from v2g.testing.fleet import FleetBuilder
    from v2g.testing.grid import CapacityGrid

    builder = FleetBuilder(T0)
    for i in range(args.vehicles):
        builder.vehicle(
            f"{i:04d}",
            bus=1 + i % 40,
            soc_percent=30 + i % 50,
            departure=T0 + timedelta(hours=10 + i % 5),
            max_discharge_w=7_400 if i % 3 else 0,
            v2g=bool(i % 3),
        )
    with tempfile.TemporaryDirectory() as folder:
        engine = await open_store(sqlite_url(Path(folder) / "v2g.db"))
        aggregator = Aggregator(
            builder.site,
            CapacityGrid(1e9),
            RecordingLink(),
            FakeClock(T0),
            PlannerSettings(slot_s=900, slots=48),
            plan_timeout_s=300,
        )
        for event in builder.events:
            aggregator.submit(event)
        # The API's own speed is measured, not the per-token rate limit.
        unlimited = RateLimit(requests_per_s=1e9, burst=1_000_000)
        services = open_services(engine, aggregator, "benchmark", rate=unlimited)
        started = time.perf_counter()
        snapshot = await aggregator.cycle()
        plan_s = time.perf_counter() - started
        assert snapshot.plan is not None and len(snapshot.plan.setpoints) == args.vehicles
        _, token = await SqlTokenStore(engine).create("viewer", T0)
        runner = web.AppRunner(make_app(provide(services)), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        results: dict[str, Any] = {"vehicles": args.vehicles, "plan_s": round(plan_s, 2)}
        try:
            for path in ("/api/v1/plan", "/api/v1/fleet"):
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.benchmarks.bench_api",
                    "--load",
                    f"http://127.0.0.1:{port}{path}",
                    token,
                    str(args.seconds),
                    str(args.concurrency),
                    stdout=subprocess.PIPE,
                )
                out, _ = await child.communicate()
                results[path] = json.loads(out)
        finally:
            await runner.cleanup()
            aggregator.close()
            await engine.dispose()
    return results


def time_demo() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "v2g", "demo", "--json", "--out", f"{folder}/demo"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall_s = time.perf_counter() - started
    summary = json.loads(done.stdout)
    return {
        "process_wall_s": round(wall_s, 1),
        "demo_wall_s": summary["wall_s"],
        "steps": summary["steps"],
        "vehicles": summary["vehicles"],
        "grid_violations": summary["grid_violations"],
        "plan_ms": summary["plan_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--load", nargs=4, metavar=("URL", "TOKEN", "SECONDS", "CONCURRENCY"))
    args = parser.parse_args()
    if args.load:
        url, token, seconds, concurrency = args.load
        print(json.dumps(asyncio.run(load(url, token, float(seconds), int(concurrency)))))
        return
    results = asyncio.run(serve_and_measure(args))
    if not args.skip_demo:
        results["demo"] = time_demo()
    print(json.dumps(results, indent=2))
    for path in ("/api/v1/plan", "/api/v1/fleet"):
        r = results[path]
        print(
            f"{path}: {r['requests_per_s']} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms "
            f"({r['body_bytes']} bytes, {r['errors']} errors)",
            file=sys.stderr,
        )
    if "demo" in results:
        print(f"v2g demo (defaults): {results['demo']['process_wall_s']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
