"""``v2g serve --config portfolio.toml``: Ray started or joined, one actor per shard,
the coordinator's cycle, and the API's portfolio routes.

Served (same tokens, roles, problem+json errors and rate limit as a site):
``GET /api/v1/health``, ``GET /api/v1/portfolio`` (viewer and up: per feeder its
vehicles, envelope, share, plan time and AC verdict), ``GET|POST /api/v1/dr-events``
(utility, operator: an ``export_w``, ``import_limit_w`` or ``shed_w`` event for the
portfolio, split across the feeders), ``GET /api/v1/sessions`` and
``/sessions/{session_id}`` (viewer and up: every feeder's sessions from the store, as
a site lists them; no bill). The portfolio's DR events are kept in the store and read
back at start. The site's other routes (fleet, plan, commands, stream, dashboard) are
not served for a portfolio yet.

With ``[ocpp]`` the site's CSMS runs here: a station's session events go to the store
and to the shard of its EVSE's feeder, each cycle's setpoints back to the stations.
With ``[secc] config`` an SECC runs in this process as in a site's: its sessions go
the same way, and each cycle's setpoints reach its EVSEs through their mailboxes.

Of several instances on one store, only the holder of the coordinator lease
(``v2g.portfolio.lease``) gets this far; the others wait before listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.aggregator import MailboxLink
from v2g.api import reads, schemas, wire
from v2g.api.auth import TokenCheck, auth_middleware
from v2g.api.documents import event_document
from v2g.api.openapi import BASE
from v2g.api.problem import Problem, problem_middleware
from v2g.api.ratelimit import TokenBuckets
from v2g.api.responses import document
from v2g.api.roles import DEMAND_RESPONSE, READ
from v2g.api.wire import MAX_BODY_BYTES
from v2g.clock import SystemClock
from v2g.ocpp.csms import OcppLink
from v2g.portfolio.config import PortfolioConfig
from v2g.portfolio.coordinator import Portfolio, PortfolioSnapshot, Shard
from v2g.portfolio.lease import CoordinatorLease
from v2g.portfolio.owners import HeldConnections, record_shard, this_instance
from v2g.portfolio.revival import Revival
from v2g.portfolio.stations import FeederIntake, post_setpoints
from v2g.service.ocpp_link import csms_serving, ocpp_csms
from v2g.service.plan_log import PlanLog
from v2g.service.secc_authorize import authorized_by_drivers
from v2g.service.secc_link import SessionFeed, in_process_station
from v2g.store import SqlEventStore, SqlPlanStore, SqlSessionStore, SqlTokenStore, open_store
from v2g.store.drivers import SqlDriverStore
from v2g.store.owners import FEEDER, STATION, SqlOwners
from v2g.store.plans import PlanRecord
from v2g.store.station_records import SqlStationRecords
from v2g.tasks import stop_task

if TYPE_CHECKING:  # Ray and iso15118 are imported when the service starts
    from v2g.portfolio.cluster import RayShard
    from v2g.secc.station import Station

logger = logging.getLogger(__name__)
PORTFOLIO = web.AppKey("portfolio", Portfolio)
EVENTS = web.AppKey("portfolio events", SqlEventStore)
TOKENS = web.AppKey("portfolio tokens", TokenCheck)
BUCKETS = web.AppKey("portfolio buckets", TokenBuckets)
OWNERS = web.AppKey("portfolio owners", SqlOwners)
STATIONS = web.AppKey("portfolio stations", dict[str, str])
SESSIONS = web.AppKey("portfolio sessions", SqlSessionStore)
ROLES = {
    ("GET", f"{BASE}/portfolio"): READ,
    ("GET", f"{BASE}/sessions"): READ,
    ("GET", f"{BASE}/sessions/{{session_id}}"): READ,
    ("GET", f"{BASE}/dr-events"): DEMAND_RESPONSE,
    ("POST", f"{BASE}/dr-events"): DEMAND_RESPONSE,
}


async def health(request: web.Request) -> web.Response:
    latest = request.app[PORTFOLIO].latest()
    return document({"status": "ok", "cycle": 0 if latest is None else latest.cycle})


async def portfolio(request: web.Request) -> web.Response:
    """The latest cycle, each feeder with the shard holding it, and each station with
    its feeder and the service instance holding its connection (None: offline)."""
    latest = request.app[PORTFOLIO].latest()
    if latest is None:
        raise Problem(503, "Service Unavailable", "no portfolio cycle yet")
    owners = request.app[OWNERS]
    try:
        shards, connections = await owners.held(FEEDER), await owners.held(STATION)
    except (SQLAlchemyError, OSError) as error:
        raise Problem(
            503, "Service Unavailable", f"store: {error}", headers={"Retry-After": "5"}
        ) from None
    body = latest.as_dict()
    for row in body["feeders"]:  # type: ignore[attr-defined]
        shard = shards.get(row["feeder"])
        row["shard"] = None if shard is None else shard.as_dict()
    body["stations"] = [
        {
            "station_id": station,
            "feeder": feeder,
            "instance": None if station not in connections else connections[station].as_dict(),
        }
        for station, feeder in sorted(request.app[STATIONS].items())
    ]
    return document(body)


def _station_feeders(config: PortfolioConfig) -> dict[str, str]:
    """Each OCPP station's feeder (all its EVSEs are on one)."""
    feeder_of = config.feeder_of()
    stations = {} if config.ocpp is None else config.ocpp.stations
    return {s: feeder_of[next(iter(evses.values())).evse_id] for s, evses in stations.items()}


async def sessions(request: web.Request) -> web.Response:
    """The portfolio's sessions, every feeder's, as a site lists its own."""
    return await reads.stored_sessions(request, request.app[SESSIONS])


async def session(request: web.Request) -> web.Response:
    """One session with its meter values (a portfolio has no billing: ``bill`` null)."""
    return await reads.stored_session(request, request.app[SESSIONS])


async def dr_events(request: web.Request) -> web.Response:
    found = request.app[PORTFOLIO]
    rows = [
        event_document(e, e.status_at(found.clock.now()))
        for e in sorted(found.events.events.values(), key=lambda e: (e.start, e.id))
    ]
    return document({"events": rows, "cancelled": sorted(found.events.cancelled)})


async def post_dr_event(request: web.Request) -> web.Response:
    """A DR event for the portfolio: stored, then split at the next cycle (at once)."""
    event = wire.dr_event(await wire.body(request, schemas.DrEventBody))
    found = request.app[PORTFOLIO]
    known = event.id in found.events.events
    before = found.events
    outcome = found.submit(event)
    if outcome.accepted and found.events is not before:
        try:
            await request.app[EVENTS].save(event, "http", found.clock.now())
        except Exception as error:
            found.events = before  # nothing applied that the store does not hold
            raise Problem(
                503, "Service Unavailable", f"store: {error}", headers={"Retry-After": "5"}
            ) from None
        found.wake.set()
    reply: dict[str, Any] = {"accepted": outcome.accepted, "outcome": outcome.reason}
    if not outcome.accepted:
        return document(reply)
    reply["event"] = event_document(event, event.status_at(found.clock.now()))
    if known:
        return document(reply)
    return document(reply, 201, Location=f"{BASE}/dr-events/{quote(event.id, safe='')}")


@contextlib.asynccontextmanager
async def _links(
    config: PortfolioConfig,
    portfolio: Portfolio,
    feed: SessionFeed,
    engine: AsyncEngine,
    owners: SqlOwners,
    clock: SystemClock,
    station: Station | None,
) -> AsyncIterator[None]:
    """Session events into ``feed`` (the store, and the shard of each EVSE's feeder)
    and each cycle's setpoints back: over OCPP to the feeders' stations (``[ocpp]``:
    the site's CSMS) and through its mailboxes to ``station`` (``[secc]``)."""
    in_process = MailboxLink(
        {} if station is None else {e: r.mailbox for e, r in station.evses.items()}
    )
    async with contextlib.AsyncExitStack() as exits:
        if config.ocpp is None:
            portfolio.subscribe(partial(post_setpoints, in_process))
        else:
            here = this_instance(clock.now())
            records = HeldConnections(SqlStationRecords(engine), owners, here)
            csms = ocpp_csms(config.ocpp, engine, feed, clock, records)
            portfolio.subscribe(partial(post_setpoints, OcppLink(csms, in_process)))
            await exits.enter_async_context(csms_serving(csms, records, clock))
        if station is None:
            yield
            return
        station.events.subscribe(feed)
        running = asyncio.create_task(station.run(), name="secc")
        try:
            yield
        finally:
            await stop_task(running)


def _secc(config: PortfolioConfig, engine: AsyncEngine, clock: SystemClock) -> Station | None:
    """``[secc]``: the SECC in this process, its EVSEs chargers of any feeder (its
    sessions are planned by their feeder's shard, as a station's over OCPP are);
    raises ConfigError for an EVSE that is on no feeder."""
    if config.service.secc_config is None:
        return None
    station = in_process_station(config.service.secc_config, config.feeder_of(), clock)
    if config.service.secc_authorize:
        authorized_by_drivers(station, SqlDriverStore(engine), clock)
    return station


async def coordinated(
    config: PortfolioConfig,
    shards: list[RayShard],
    engine: AsyncEngine,
    owners: SqlOwners,
    clock: SystemClock,
) -> tuple[Portfolio, SessionFeed]:
    """The coordinator of ``shards`` (each recorded as its feeders' holder, given the
    store's open sessions now, and restarted from them when its worker dies) and the
    feed that takes the stations' session events to the store and to the shards."""
    for shard in shards:
        await record_shard(owners, shard, clock.now())
    sessions = SqlSessionStore(engine)
    wake = asyncio.Event()  # a plug-in plans at once, not at the next tick
    intake = FeederIntake(config.feeder_of(), shards, wake)
    feed = SessionFeed(intake, sessions)
    revival = Revival(shards, sessions, feed.flush, intake)
    for shard in shards:
        # A service started again: the vehicles its stations left plugged in are
        # planned from the store, as a restarted shard's are.
        await revival.rebuild(shard)

    async def revive(failed: Shard) -> Shard:
        fresh = await revival(failed)
        await record_shard(owners, fresh, clock.now())
        return fresh

    portfolio = Portfolio(
        shards, clock, config.cycle_deadline_s, config.mv_export_cap_w, revive, wake
    )
    return portfolio, feed


def plan_record(snapshot: PortfolioSnapshot) -> PlanRecord:
    """A portfolio cycle as a row of the store's plans: every feeder's summary and
    every event's split; its AC verdict is that of the feeders planned in it."""
    verdicts = [snapshot.feeders[f].grid_ok for f in snapshot.fresh]
    known = [v for v in verdicts if v is not None]
    return PlanRecord(snapshot.at, "portfolio", all(known) if known else None, snapshot.as_dict())


def _stop_this_process() -> None:
    """Another instance coordinates now: this one shuts down as on Ctrl-C (its CSMS
    closes, so its stations reconnect to the instance that took over)."""
    os.kill(os.getpid(), signal.SIGTERM)


def portfolio_app(config: PortfolioConfig) -> web.Application:
    """The portfolio service as one aiohttp application."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        from v2g.portfolio.cluster import cluster_cpus, ray_shards, start_ray, stop_ray

        clock = SystemClock()
        directory = config.service.data_dir()
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        engine = await open_store(config.service.store_url)
        events = SqlEventStore(engine, config.service.keep_ended_dr_events_s)
        station = _secc(config, engine, clock)  # its file checked before Ray starts
        owners = SqlOwners(engine)
        lease = CoordinatorLease(owners, this_instance(clock.now()), config.lease_s, clock)
        await lease.acquire()  # a standby waits here, not listening
        # Renewed from now: starting Ray and rebuilding the shards may outlast a lease.
        keeping = asyncio.create_task(lease.keep(_stop_this_process), name="lease")
        start_ray(config.cluster)
        shards = ray_shards(config.feeders, config.cluster.shards or cluster_cpus(), clock)
        found, feed = await coordinated(config, shards, engine, owners, clock)
        app[OWNERS], app[SESSIONS] = owners, SqlSessionStore(engine)
        app[STATIONS] = _station_feeders(config)
        found.events = await events.book()
        app[PORTFOLIO], app[EVENTS] = found, events
        app[TOKENS] = TokenCheck(SqlTokenStore(engine))
        app[BUCKETS] = TokenBuckets(config.service.rate)
        exits = contextlib.AsyncExitStack()
        await exits.enter_async_context(
            _links(config, found, feed, engine, owners, clock, station)
        )
        plans = PlanLog(SqlPlanStore(engine, config.service.keep_plans))
        found.subscribe(lambda snapshot: plans.put(plan_record(snapshot)))
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(found.run(config.interval_s, stop), name="portfolio cycle"),
            asyncio.create_task(plans.run(), name="plan log"),
            keeping,
        ]
        logger.info(
            "portfolio: %d feeders on %d shards (Ray %s); %d DR events restored",
            len(config.feeders),
            len(shards),
            config.cluster.address,
            len(found.events.events),
        )
        try:
            yield
        finally:
            await exits.aclose()
            stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(feed.flush(), timeout=5)
                await asyncio.wait_for(plans.flush(), timeout=5)
            for task in tasks:
                await stop_task(task)
            await feed.close()
            for shard in shards:
                shard.kill()
            stop_ray()
            await lease.release()
            await engine.dispose()

    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[
            problem_middleware,
            auth_middleware(ROLES, lambda r: r.app[TOKENS], lambda r: r.app[BUCKETS]),
        ],
    )
    app.cleanup_ctx.append(context)
    _routed(app)
    return app


def _routed(app: web.Application) -> None:
    """The portfolio's routes (a GET answers HEAD too, as a site's)."""
    app.router.add_get(f"{BASE}/health", health)
    app.router.add_get(f"{BASE}/portfolio", portfolio)
    app.router.add_get(f"{BASE}/sessions", sessions)
    app.router.add_get(f"{BASE}/sessions/{{session_id}}", session)
    app.router.add_get(f"{BASE}/dr-events", dr_events)
    app.router.add_post(f"{BASE}/dr-events", post_dr_event)
