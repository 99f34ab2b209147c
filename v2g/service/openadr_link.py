"""The OpenADR channel of ``v2g serve``: the site's ``[openadr]`` VTN followed with the
service, through the same DR intake and store as the HTTP channel.

2.0b: the VEN registers (again every few seconds until the VTN takes it) and
openleadr polls. 3: the client first catches up with what it handed in before a
restart (bounded wait), then polls; with ``webhook = true`` its receiver listens on
a port of its own and it subscribes. Both stop with the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.offers import StoreOffers
from v2g.clock import Clock
from v2g.config import ConfigError
from v2g.openadr.config import WEBHOOK_PATH, Oadr3Site, OpenAdrSite
from v2g.openadr.oadr3_client import CHANNEL as OADR3
from v2g.openadr.oadr3_client import Oadr3Client
from v2g.openadr.ven import Oadr2Ven, VenConfig
from v2g.store import SqlSessionStore
from v2g.store.channels import event_ids_from

logger = logging.getLogger(__name__)

#: How long start-up waits for the OpenADR 3 VTN's first answer before the first cycle
#: (a VTN that is down must not hold the fleet up; the client goes on retrying).
CATCH_UP_S = 10.0


@contextlib.asynccontextmanager
async def openadr_channel(
    config: OpenAdrSite, intake: DemandResponseIntake, engine: AsyncEngine, clock: Clock
) -> AsyncIterator[None]:
    """The channel running for the ``async with`` body, stopped cleanly after it."""
    if isinstance(config, VenConfig):
        async with _oadr2(config, intake, engine, clock):
            yield
    else:
        async with _oadr3(config, intake, engine, clock):
            yield


@contextlib.asynccontextmanager
async def _oadr2(
    config: VenConfig, intake: DemandResponseIntake, engine: AsyncEngine, clock: Clock
) -> AsyncIterator[None]:
    offers = StoreOffers(SqlSessionStore(engine), intake.aggregator)
    ven = Oadr2Ven(config, intake, clock=clock, offers=offers)
    stop = asyncio.Event()
    task = asyncio.create_task(ven.run(stop), name="openadr 2.0b ven")
    logger.info("OpenADR 2.0b: VEN %s follows %s", config.ven_name, config.vtn_url)
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, timeout=15)
        await ven.stop()


@contextlib.asynccontextmanager
async def _oadr3(
    config: Oadr3Site, intake: DemandResponseIntake, engine: AsyncEngine, clock: Clock
) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        )
        offers = StoreOffers(SqlSessionStore(engine), intake.aggregator)
        client = Oadr3Client(config.client, intake, clock, session, offers)
        held = await event_ids_from(engine, OADR3)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.catch_up(held), timeout=CATCH_UP_S)
        if config.webhook:
            await stack.enter_async_context(_webhooks(client, config))
        stop = asyncio.Event()
        task = asyncio.create_task(client.run(stop), name="openadr 3 client")
        logger.info("OpenADR 3: following %s (%d events held)", config.client.base_url, len(held))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task, timeout=15)


@contextlib.asynccontextmanager
async def _webhooks(client: Oadr3Client, config: Oadr3Site) -> AsyncIterator[None]:
    """The webhook receiver on its own address, and the subscriptions (tried once at
    start; a VTN that refuses them leaves polling, which always runs, and says so in
    health)."""
    runner = web.AppRunner(client.webhook_app(WEBHOOK_PATH))
    await runner.setup()
    try:
        where = f"{config.webhook_host}:{config.webhook_port}"
        try:
            await web.TCPSite(runner, config.webhook_host, config.webhook_port).start()
        except OSError as error:
            problem = f"openadr.webhook_listen: cannot listen on {where}: {error}"
            raise ConfigError([problem]) from error
        try:
            await client.subscribe(config.webhook_url)
        except Exception as error:  # polling goes on; health shows why
            client._failed(error)
        yield
    finally:
        await runner.cleanup()
