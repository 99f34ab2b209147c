"""An operator API on a real SQLite store, a real aggregator with two V2G cars (on a
fake feeder or on CIGRE LV), and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from gridmodel import AcGridCheck, Network, load_network
from v2g.aggregator import Aggregator, RecordingLink
from v2g.api.app import LINGERING_S, make_app
from v2g.api.services import Services, open_services, provide
from v2g.dispatch import GridModel, PlannerSettings
from v2g.feeder import FeederGrid
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlTokenStore, open_store, sqlite_url
from v2g.testing import FakeClock
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    services: Services
    engine: AsyncEngine
    tokens: dict[str, str]
    db_path: str

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@asynccontextmanager
async def running_api(
    tmp_path, grid: GridModel, network: str | Network, bus: int
) -> AsyncIterator[Api]:
    path = tmp_path / "v2g.db"
    engine = await open_store(sqlite_url(path))
    builder = FleetBuilder(T0)
    for name in ("a", "b"):
        builder.vehicle(
            name,
            bus=bus,
            soc_percent=80,
            departure=T0 + timedelta(hours=13),
            max_discharge_w=11_000,
            v2g=True,
        )
    aggregator = Aggregator(
        builder.site,
        grid,
        RecordingLink(),
        FakeClock(T0),
        PlannerSettings(slot_s=3600, slots=12, setpoint_valid_s=600),
    )
    services = open_services(engine, aggregator, network)
    for event in builder.events:
        assert aggregator.submit(event).accepted
        await services.sessions.record(event)
    await services.sessions.record(PowerMeasured("evse-a", "session-a", T0, 3000.0, 80.0))
    token_store = SqlTokenStore(engine)
    tokens = {}
    for role in ("viewer", "operator", "utility"):
        _, tokens[role] = await token_store.create(role, T0)
    await services.drivers.create("d-1", "Driver One", T0)
    _, tokens["driver"] = await token_store.create("driver", T0, "d-1")
    await aggregator.cycle()
    await services.feed.settled()
    server = TestServer(make_app(provide(services)))
    await server.start_server(lingering_time=LINGERING_S)  # as `v2g serve` runs it
    client = TestClient(server)
    await client.start_server()
    try:
        yield Api(client, services, engine, tokens, str(path))
    finally:
        await client.close()
        services.feed.close()
        await services.measurements.flush()  # no M&V read left running on the store
        aggregator.close()
        await engine.dispose()


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[Api]:
    """Two V2G cars behind a fake 1 MW transformer."""
    async with running_api(tmp_path, CapacityGrid(1e6), "fake feeder", 1) as running:
        yield running


@pytest.fixture
async def feeder_api(tmp_path) -> AsyncIterator[Api]:
    """Two V2G cars at Bus R11 of the CIGRE LV feeder (real AC checks)."""
    network = load_network("cigre-lv")
    grid = FeederGrid(AcGridCheck(network))
    async with running_api(tmp_path, grid, network, network.resolve_bus("Bus R11")) as running:
        yield running


async def record_evenings(api: Api, days: int) -> None:
    """History: every evening at 17:00 two cars arrive for 14 h and draw 11 kW for an
    hour."""
    for day in range(1, days + 1):
        begin = T0 - timedelta(days=day, hours=1)
        for evse in ("evse-a", "evse-b"):
            session = f"h-{day}-{evse}"
            await api.services.sessions.record(SessionStarted(evse, session, begin, "car", "-20"))
            await api.services.sessions.record(PowerMeasured(evse, session, begin, 11_000.0))
            await api.services.sessions.record(
                PowerMeasured(evse, session, begin + timedelta(hours=1), 0.0)
            )
            end = begin + timedelta(hours=14)
            await api.services.sessions.record(SessionEnded(evse, session, end, "left"))
