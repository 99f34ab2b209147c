"""One demo run: the real aggregator (control cycle, planner, AC grid check, DR
intake, store) drives a simulated fleet through the demo day; the operator API and
dashboard can watch it live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from gridmodel import AcGridCheck, GridVerdict, load_network
from v2g.api.app import make_app
from v2g.api.services import Services, open_services, provide
from v2g.clock import SystemClock
from v2g.demo.base_case import fit_base_load, fit_notice
from v2g.demo.scenario import PEAK_BASE_LOAD, demo_scenario
from v2g.feeder import FeederGrid
from v2g.service.plan_log import PlanLog
from v2g.simulation import parse_scenario, write_report
from v2g.simulation.run import run_scenario, scenario_aggregator
from v2g.store import SqlPlanStore, SqlTokenStore, open_store, sqlite_url
from v2g.tasks import stop_task


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``v2g demo`` was asked for. ``speed``: simulated seconds per wall-clock
    second (0: as fast as the planner goes)."""

    vehicles: int = 24
    feeder: str = "cigre-lv"
    hours: float = 24.0
    speed: float = 0.0
    out: Path = Path("v2g-demo")
    serve: bool = False
    host: str = "127.0.0.1"
    port: int = 8080


Say = Callable[[str], None]


async def _flush_mv(services: Services, end: datetime) -> None:
    """Wait until the M&V of the run (dispatched, and metered up to ``end``) is stored."""
    await services.measurements.flush()
    if services.metered is not None:
        await services.metered.settle(end)


async def run_demo(
    options: DemoOptions,
    say: Say,
    on_summary: Callable[[dict[str, Any]], None],
    progress: Callable[[int, int], None] | None = None,
    keep_serving: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Run the demo and hand its summary (``v2g simulate``'s keys plus the demo's) to
    ``on_summary`` as soon as the day is over; returns it too. With
    ``options.serve`` the API stays up after the run until ``keep_serving`` is set
    (or forever without one)."""
    started = time.perf_counter()
    network = load_network(options.feeder)
    grid = FeederGrid(AcGridCheck(network))

    def base_case(factor: float) -> GridVerdict:
        return grid.check([i for i in grid.base_injections(factor) if i.power_w])

    fit = fit_base_load(base_case, PEAK_BASE_LOAD)
    if fit.scaled:
        say(fit_notice(network.name, PEAK_BASE_LOAD, fit))
    document = demo_scenario(network, options.vehicles, options.hours, base_load_scale=fit.scale)
    scenario = parse_scenario(document)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "scenario.json").write_text(json.dumps(document, indent=2) + "\n")
    database = options.out / "v2g.db"
    for stale in options.out.glob("v2g.db*"):
        stale.unlink()  # every demo starts from an empty store

    engine = await open_store(sqlite_url(database))
    aggregator, clock, link = scenario_aggregator(scenario, grid, network.resolve_bus)
    services = open_services(engine, aggregator, network)
    plans = PlanLog(SqlPlanStore(engine))
    aggregator.subscribe(plans.publish)
    writer = asyncio.create_task(plans.run())
    runner: web.AppRunner | None = None
    try:
        for event in scenario.dr_events:
            outcome = await services.intake.receive(event, "demo")
            say(f"DR event {event.id}: {outcome.reason}")
        if options.serve:
            runner = web.AppRunner(make_app(provide(services)), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, options.host, options.port).start()
            _, token = await SqlTokenStore(engine).create("viewer", SystemClock().now())
            say(f"dashboard: http://{options.host}:{options.port}/#token={token}")
        pace_s = scenario.step_s / options.speed if options.speed > 0 else 0.0
        log = await run_scenario(
            scenario,
            aggregator,
            clock,
            link,
            on_session_event=services.sessions.record,
            progress=progress,
            pace_s=pace_s,
        )
        await plans.flush()
        await _flush_mv(services, scenario.end)
        summary = write_report(options.out, scenario, log, network.limits)
        summary |= {
            "feeder": network.name,
            "hours": options.hours,
            "base_load_scale": fit.scale,
            "steps": len(log.grid),
            "plans_stored": plans.saved,
            "report": str(options.out),
            "store": sqlite_url(database),
            "wall_s": round(time.perf_counter() - started, 2),
        }
        on_summary(summary)
        if runner is not None:
            say("the day is over; the dashboard stays up until Ctrl-C")
            await (keep_serving or asyncio.Event()).wait()
        return summary
    finally:
        await stop_task(writer)
        if runner is not None:
            await runner.cleanup()
        aggregator.close()
        services.feed.close()
        await engine.dispose()
