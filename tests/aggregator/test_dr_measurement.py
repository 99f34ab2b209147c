"""M&V through the real control cycle: per event, energy asked and delivered against
the baseline, kept in the store and offered to the API through the intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.store.measurements import SqlMeasurementStore
from v2g.testing import FakeClock
from v2g.testing.fleet import FleetBuilder, v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=12, setpoint_valid_s=600)


def fleet() -> FleetBuilder:
    builder = v2g_pair(T0, stay_h=13)
    return builder


@pytest.fixture
async def site(tmp_path):
    builder = fleet()
    clock = FakeClock(T0)
    aggregator = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), clock, HOURLY)
    for event in builder.events:
        aggregator.submit(event)
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    ledger = MeasurementLedger(aggregator, SqlMeasurementStore(engine))
    intake = DemandResponseIntake(aggregator, SqlEventStore(engine), ledger=ledger)
    yield aggregator, clock, intake, ledger, engine
    await ledger.flush()
    aggregator.close()
    await engine.dispose()


async def test_an_export_event_delivered_in_full_measures_what_was_asked(site):
    aggregator, clock, intake, ledger, engine = site
    event = DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=2), "export_w", 15_000)
    assert (await intake.receive(event, "http")).accepted
    for _ in range(3):
        await aggregator.cycle()
        clock.advance(3600)
    result = intake.measurement("evt-1")
    assert result is not None
    assert result["asked_wh"] == pytest.approx(30_000)
    assert result["delivered_wh"] == pytest.approx(30_000, rel=0.01)
    assert result["delivery_percent"] == pytest.approx(100, abs=1)

    await ledger.flush()
    [stored] = await SqlMeasurementStore(engine).all()
    assert stored.delivered_wh == pytest.approx(result["delivered_wh"])


async def test_an_event_the_fleet_cannot_fully_deliver_shows_the_shortfall(site):
    aggregator, clock, intake, _, _ = site
    event = DemandResponseEvent("evt-2", T0, T0 + timedelta(hours=1), "export_w", 30_000)
    assert (await intake.receive(event, "http")).accepted
    await aggregator.cycle()
    clock.advance(3600)
    await aggregator.cycle()
    result = intake.measurement("evt-2")
    assert result["asked_wh"] == pytest.approx(30_000)
    assert result["delivered_wh"] == pytest.approx(22_000, rel=0.01)


async def test_a_cancelled_event_stops_counting_at_the_cancellation(site):
    aggregator, clock, intake, _, _ = site
    event = DemandResponseEvent("evt-3", T0, T0 + timedelta(hours=4), "export_w", 10_000)
    await intake.receive(event, "http")
    await aggregator.cycle()
    clock.advance(1800)
    assert (await intake.cancel("evt-3")).accepted
    await aggregator.cycle()
    clock.advance(7200)
    await aggregator.cycle()
    result = intake.measurement("evt-3")
    assert result["asked_wh"] == pytest.approx(5_000)
    assert result["delivered_wh"] == pytest.approx(5_000, rel=0.01)
    assert [m["event_id"] for m in intake.measurements()] == ["evt-3"]
