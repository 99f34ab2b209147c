"""Fixtures for the OpenADR tests: a small V2G fleet behind a cycling aggregator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.openadr.support import eventually
from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.clock import SystemClock
from v2g.dispatch import PlannerSettings
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

SETTINGS = PlannerSettings(slot_s=300, slots=12, setpoint_valid_s=120)


@pytest.fixture
async def fleet_site(tmp_path) -> AsyncIterator[tuple[Aggregator, DemandResponseIntake]]:
    now = datetime.now(UTC)
    builder = v2g_pair(now, stay_h=10)
    aggregator = Aggregator(
        builder.site, CapacityGrid(1e6), RecordingLink(), SystemClock(), SETTINGS
    )
    for event in builder.events:
        assert aggregator.submit(event).accepted
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    intake = DemandResponseIntake(
        aggregator, SqlEventStore(engine), ledger=MeasurementLedger(aggregator)
    )
    stop = asyncio.Event()
    cycling = asyncio.create_task(aggregator.run(0.5, stop))
    await eventually(lambda: aggregator.latest() is not None)
    yield aggregator, intake
    stop.set()
    await cycling
    aggregator.close()
    await engine.dispose()
