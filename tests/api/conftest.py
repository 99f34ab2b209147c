"""An operator API on a real SQLite store, a real aggregator with two V2G cars on a
fake feeder, and one token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.api.app import make_app
from v2g.api.auth import TokenCheck
from v2g.api.feed import SnapshotFeed
from v2g.api.services import SERVICES, Services
from v2g.dispatch import PlannerSettings
from v2g.session import PowerMeasured
from v2g.store import (
    SqlAuditStore,
    SqlEventStore,
    SqlSessionStore,
    SqlTokenStore,
    open_store,
    sqlite_url,
)
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


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[Api]:
    path = tmp_path / "v2g.db"
    engine = await open_store(sqlite_url(path))
    builder = FleetBuilder(T0)
    for name in ("a", "b"):
        builder.vehicle(
            name,
            soc_percent=80,
            departure=T0 + timedelta(hours=13),
            max_discharge_w=11_000,
            v2g=True,
        )
    clock = FakeClock(T0)
    aggregator = Aggregator(
        builder.site,
        CapacityGrid(1e6),
        RecordingLink(),
        clock,
        PlannerSettings(slot_s=3600, slots=12, setpoint_valid_s=600),
    )
    sessions = SqlSessionStore(engine)
    for event in builder.events:
        assert aggregator.submit(event).accepted
        await sessions.record(event)
    await sessions.record(PowerMeasured("evse-a", "session-a", T0, 3000.0, 80.0))
    feed = SnapshotFeed("fake feeder")
    aggregator.subscribe(feed.publish)
    token_store = SqlTokenStore(engine)
    tokens = {}
    for role in ("viewer", "operator", "utility"):
        _, tokens[role] = await token_store.create(role, T0)
    services = Services(
        aggregator=aggregator,
        intake=DemandResponseIntake(aggregator, SqlEventStore(engine)),
        sessions=sessions,
        audit=SqlAuditStore(engine),
        tokens=TokenCheck(token_store),
        feed=feed,
    )

    async def provide(app: web.Application) -> AsyncIterator[None]:
        app[SERVICES] = services
        yield

    await aggregator.cycle()
    client = TestClient(TestServer(make_app(provide)))
    await client.start_server()
    try:
        yield Api(client, services, engine, tokens, str(path))
    finally:
        await client.close()
        aggregator.close()
        await engine.dispose()
