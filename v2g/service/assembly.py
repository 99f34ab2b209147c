"""``v2g serve`` put together: store, grid, site, aggregator, DR intake, plan log and
the operator API, started and stopped in one ``cleanup_ctx``.

Setpoints go into one in-process mailbox per charger (``MailboxLink``). With
``[secc] config = "charger.toml"`` the SECC runs in this process: its mailboxes are
those, and its session events feed the aggregator and the store. DR events accepted
before a restart are read back from the store, so a restart keeps planning for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gridmodel import AcGridCheck, Network, NetworkError, load_network
from v2g.aggregator import Aggregator, AggregatorState, MailboxLink
from v2g.api.app import make_app
from v2g.api.services import SERVICES, Services, open_services
from v2g.clock import SystemClock
from v2g.config import ConfigError
from v2g.demand_response import EventBook
from v2g.dispatch import PlannerSettings
from v2g.feeder import FeederGrid
from v2g.fleet import OwnerPolicy, Site
from v2g.ocpp.csms import Csms, OcppLink
from v2g.service.config import SiteConfig
from v2g.service.heap import settle_heap
from v2g.service.ocpp_link import StationRecordWriter, csms_serving, ocpp_csms
from v2g.service.openadr_link import openadr_channel
from v2g.service.plan_log import PlanLog
from v2g.service.secc_authorize import authorized_by_drivers
from v2g.service.secc_link import SessionFeed, in_process_station, mailboxes_of
from v2g.service.station_local_lists import StationLocalLists
from v2g.service.station_reservations import StationReservations
from v2g.store import SqlEventStore, SqlPlanStore, SqlSessionStore, open_store
from v2g.store.drivers import SqlDriverStore
from v2g.store.engine import unavailable
from v2g.store.station_records import SqlStationRecords
from v2g.tasks import stop_task

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


def site_of(config: SiteConfig, network: Network) -> Site:
    """The configured chargers at their buses, with the owners' terms (raises
    ConfigError naming every unknown bus)."""
    problems, chargers = [], []
    for i, charger in enumerate(config.chargers):
        try:
            bus = network.resolve_bus(charger.bus)
        except NetworkError as error:
            problems.append(f"charger[{i}].bus: {error}")
            continue
        chargers.append(charger.at_bus(bus))
    if problems:
        raise ConfigError(problems)
    policies = {
        v.ev_id: OwnerPolicy(
            v2g_allowed=v.v2g_allowed,
            reserve_soc_percent=v.reserve_soc_percent,
            accept_shortfall=v.accept_shortfall,
        )
        for v in config.vehicles
    }
    return Site.of(chargers, policies=policies, default_needs=config.default_needs)


#: Ended sessions get their bill frozen within this many seconds.
BILLING_INTERVAL_S = 60.0
#: How often the base-load forecast learns again from the store's readings (and at
#: start); each forecast covers two days, so a missed run or two loses nothing.
BASE_LOAD_INTERVAL_S = 6 * 3600.0
#: How often the arrivals the planner foresees are learned again from the store's
#: sessions (and at start): the trees learn weekly patterns, so hours lose nothing.
ARRIVALS_INTERVAL_S = 6 * 3600.0


async def _opened_store(
    config: SiteConfig, clock: SystemClock
) -> tuple[AsyncEngine, SqlEventStore, int, EventBook]:
    """The store, its DR events pruned and restored. The first write happens here, so a
    read-only store is found at start-up, not at the first plan."""
    directory = config.data_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    engine = await open_store(config.store_url)
    events = SqlEventStore(engine, config.keep_ended_dr_events_s)
    try:
        pruned = await events.prune(clock.now())
        book = await events.book()
    except (SQLAlchemyError, OSError) as error:
        await engine.dispose()
        raise unavailable(engine, error) from error
    return engine, events, pruned, book


async def _restored(services: Services, config: SiteConfig, clock: SystemClock) -> None:
    """What the store kept from before a restart (M&V so far), and the site file's
    tariffs in a store that has none yet."""
    await services.measurements.restore()
    if services.metered is not None:
        await services.metered.restore()
    if await services.billing.tariffs.seed(config.tariffs, clock.now()):
        logger.info("tariffs from the site file put in force: %d", len(config.tariffs))


async def _flushed(plans: PlanLog, feed: SessionFeed, services: Services) -> None:
    """What is still on its way to the store, written (5 s each at most)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(plans.flush(), timeout=5)
        await asyncio.wait_for(feed.flush(), timeout=5)
        await asyncio.wait_for(services.measurements.flush(), timeout=5)
        if services.metered is not None:
            await asyncio.wait_for(services.metered.flush(), timeout=5)


#: How often bookings are checked against their stations and the planner (a booking's
#: station is told within this of its start, of its cancellation or of its no-show
#: release; the planner forgets a no-show within this).
BOOKING_SWEEP_S = 30.0
#: How often stations' local lists are checked against the drivers' tokens (a token's
#: change or end of validity reaches the stations within this; a booted station and
#: a change made through the API at once).
LOCAL_LIST_SWEEP_S = 60.0
#: A station sweep, started with the other loops.
Sweep = Callable[[], Coroutine[Any, Any, None]]


def _with_stations(
    services: Services, csms: Csms | None, clock: SystemClock, stop: asyncio.Event
) -> tuple[Services, list[tuple[str, Sweep]]]:
    """``services`` with the CSMS for operators' remote operations, what stations said
    of bookings and the drivers' local lists, and the sweeps that tell them (none
    without ``[ocpp]``)."""
    if csms is None:
        return services, []
    told = StationReservations(services.drivers, csms, services.sessions, clock)
    lists = StationLocalLists(services.drivers, csms, clock)
    csms.when_booted(lists.booted)
    sweeps: list[tuple[str, Sweep]] = [
        ("bookings to stations", partial(told.run, BOOKING_SWEEP_S, stop)),
        ("local lists", partial(lists.run, LOCAL_LIST_SWEEP_S, stop)),
    ]
    return replace(services, csms=csms, bookings_told=told, station_lists=lists), sweeps


def service_app(config: SiteConfig) -> web.Application:
    """The aggregator service as one aiohttp application."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        network = load_network(config.network, config.limits)
        site = site_of(config, network)
        clock = SystemClock()
        engine, events, pruned, book = await _opened_store(config, clock)
        station = (
            in_process_station(config.secc_config, site.chargers, clock)
            if config.secc_config
            else None
        )
        if station is not None and config.secc_authorize:
            authorized_by_drivers(station, SqlDriverStore(engine), clock)
        feed: SessionFeed | None = None
        records = None if config.ocpp is None else StationRecordWriter(SqlStationRecords(engine))
        csms = (
            None
            if config.ocpp is None
            # Late-bound: the feed needs the aggregator, which needs the CSMS as its link.
            else ocpp_csms(config.ocpp, engine, lambda event: feed and feed(event), clock, records)
        )
        in_process = MailboxLink(mailboxes_of(station, site))
        aggregator = Aggregator(
            site,
            FeederGrid(AcGridCheck(network)),
            in_process if csms is None else OcppLink(csms, in_process),
            clock,
            PlannerSettings(
                slot_s=config.slot_s,
                slots=config.horizon_slots,
                setpoint_valid_s=config.setpoint_valid_s,
            ),
            AggregatorState(events=book),
            plan_timeout_s=config.plan_timeout_s,
        )
        services = open_services(
            engine,
            aggregator,
            network,
            events,
            config.rate,
            config.billing,
            config.metered_mv_interval_s,
        )
        stop = asyncio.Event()
        services, sweeps = _with_stations(services, csms, clock, stop)
        await _restored(services, config, clock)
        exits = contextlib.AsyncExitStack()
        if config.openadr is not None:
            # Before the first cycle: an OpenADR 3 client first catches up with its VTN.
            channel = openadr_channel(config.openadr, services.intake, engine, clock)
            await exits.enter_async_context(channel)
        settle_heap()  # before the first cycle: start-up's objects out of the GC's way
        plans = PlanLog(SqlPlanStore(engine, config.keep_plans))
        aggregator.subscribe(plans.publish)
        tasks = [
            asyncio.create_task(plans.run(), name="plan log"),
            asyncio.create_task(aggregator.run(config.interval_s, stop), name="control cycle"),
            asyncio.create_task(services.billing.run(BILLING_INTERVAL_S, stop), name="billing"),
            asyncio.create_task(
                services.base_load.run(BASE_LOAD_INTERVAL_S, stop), name="base-load forecast"
            ),
            asyncio.create_task(services.booked.run(BOOKING_SWEEP_S, stop), name="bookings"),
            *(
                [
                    asyncio.create_task(
                        services.arrivals.run(ARRIVALS_INTERVAL_S, stop), name="arrivals"
                    )
                ]
                if config.foresee_arrivals
                else []
            ),
            *(asyncio.create_task(run(), name=name) for name, run in sweeps),
        ]
        feed = SessionFeed(aggregator, SqlSessionStore(engine))
        if station is not None:
            station.events.subscribe(feed)
            tasks.append(asyncio.create_task(station.run(), name="secc"))
        app[SERVICES] = services
        if csms is not None and records is not None:
            await exits.enter_async_context(csms_serving(csms, records, clock))
        logger.info(
            "serving %d chargers on %s; %d DR events restored from the store "
            "(%d past their retention deleted)",
            len(site.chargers),
            network.name,
            len(book.events),
            pruned,
        )
        try:
            yield
        finally:
            await exits.aclose()
            stop.set()
            await _flushed(plans, feed, services)
            for task in tasks:
                await stop_task(task)
            await feed.close()
            aggregator.close()
            services.feed.close()
            await engine.dispose()

    return make_app(context)
