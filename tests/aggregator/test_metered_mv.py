"""M&V from meters through the real control cycle and a real SQLite store: the meter
values the session links store (SECC in process, OCPP) decide what an event
delivered over exactly its window, against the plan without the event and a meter
baseline from similar days; a vehicle that ignores its setpoint is a shortfall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.aggregator.metered import MeteredVerifier
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.metering import MeterBaselineRule
from v2g.dispatch import PlannerSettings
from v2g.service.secc_link import SessionFeed
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlEventStore, SqlSessionStore, open_store, sqlite_url
from v2g.store.measurements import SqlMeasurementStore
from v2g.store.metering import SqlMeteredStore, SqlMeterReader
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

# A Wednesday, 18:00; the event starts 7.5 minutes past a quarter hour.
T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
START = T0 + timedelta(minutes=7, seconds=30)
SETTINGS = PlannerSettings(slot_s=900, slots=16, setpoint_valid_s=600)
RULE = MeterBaselineRule(of_days=5, highest=5, min_days=3)


@pytest.fixture
async def site(tmp_path):
    builder = v2g_pair(T0, stay_h=13)
    clock = FakeClock(T0)
    aggregator = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), clock, SETTINGS)
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    feed = SessionFeed(aggregator, SqlSessionStore(engine))
    for event in builder.events:
        feed(event)
    ledger = MeasurementLedger(aggregator, SqlMeasurementStore(engine))
    verifier = MeteredVerifier(
        aggregator, ledger, SqlMeterReader(engine), SqlMeteredStore(engine), RULE, every_s=0
    )
    intake = DemandResponseIntake(aggregator, SqlEventStore(engine), ledger=ledger)
    sessions = {e.evse_id: e.session_id for e in builder.events if isinstance(e, SessionStarted)}
    yield aggregator, clock, intake, verifier, feed, sessions, engine
    await feed.flush()
    await ledger.flush()
    await verifier.flush()
    aggregator.close()
    await engine.dispose()


async def history(store: SqlSessionStore, days_back: list[int], power_w: float) -> None:
    """Past sessions that drew ``power_w`` from 18:00 to 19:00 on those days."""
    for back in days_back:
        day = T0 - timedelta(days=back)
        session = f"past-{back}"
        await store.record(SessionStarted("E-past", session, day, None, "ISO 15118-20"))
        for minute in range(0, 60, 5):
            moment = day + timedelta(minutes=minute)
            await store.record(PowerMeasured("E-past", session, moment, power_w))
        await store.record(SessionEnded("E-past", session, day + timedelta(hours=1), "unplug"))


async def run_event(site, follow: dict[str, bool]) -> dict:
    """A 15 kW export from START for 30 minutes; each car reports every 5 minutes the
    power it applied: its setpoint when it follows, else 7 kW charging."""
    aggregator, clock, intake, verifier, feed, sessions, _ = site
    event = DemandResponseEvent("evt", START, START + timedelta(minutes=30), "export_w", 15_000)
    clock.advance((START - T0).total_seconds())
    assert (await intake.receive(event, "http")).accepted
    for _ in range(7):
        await aggregator.cycle()
        plan = aggregator.latest().plan
        for evse_id, session in sessions.items():
            applied = plan.setpoints[evse_id].power_w if follow[evse_id] else 7000.0
            feed(PowerMeasured(evse_id, session, clock.now(), applied))
        await feed.flush()
        clock.advance(300)
    await aggregator.cycle()  # past the end: the final measurement
    await verifier.flush()
    found = intake.measurement("evt")
    assert found is not None
    return found


async def test_an_obedient_fleet_delivers_the_ask_as_metered(site):
    evses = sorted(site[5])
    found = await run_event(site, dict.fromkeys(evses, True))
    measured = found["measured"]
    assert measured["final"] is True
    assert measured["window"]["start"] == START.isoformat()
    assert measured["asked_wh"] == pytest.approx(7500, rel=1e-6)
    # Cars that apply their setpoints: the meters see what the dispatch counted (the
    # samples are taken at the cycles here, so both integrate the same steps).
    assert measured["delivered_metered_wh"] == pytest.approx(found["delivered_wh"], rel=1e-6)
    assert measured["shortfall_wh"] == pytest.approx(7500 - found["delivered_wh"], abs=1e-3)
    assert measured["samples"] == 12  # 6 reports per car within [start, end)


async def test_a_vehicle_that_ignores_its_setpoint_shows_as_a_shortfall(site):
    evses = sorted(site[5])
    found = await run_event(site, {evses[0]: True, evses[1]: False})
    measured = found["measured"]
    # The dispatch counts the setpoints; the meters saw one car charge at 7 kW instead
    # of discharging, so at least its 3.5 kWh of charging is missing from the delivery.
    dispatched = found["delivered_wh"]
    assert dispatched > 5000
    assert measured["delivered_metered_wh"] < dispatched - 3500
    assert measured["shortfall_wh"] > 3500
    assert measured["shortfall_wh"] == pytest.approx(
        measured["asked_wh"] - measured["delivered_metered_wh"]
    )
    stored = await SqlMeteredStore(site[6]).all()
    assert stored["evt"]["shortfall_wh"] == measured["shortfall_wh"]


async def test_the_meter_baseline_comes_from_the_same_window_on_similar_days(site):
    store = SqlSessionStore(site[6])
    # Weekdays 1, 2 and 5 days back drew 6 kW 18:00-19:00; the weekend (3, 4) 20 kW.
    await history(store, [1, 2, 5], 6000.0)
    await history(store, [3, 4], 20_000.0)
    evses = sorted(site[5])
    found = await run_event(site, dict.fromkeys(evses, True))
    meter = found["measured"]["baseline"]["meter"]
    assert meter["days"] == ["2026-06-26", "2026-06-29", "2026-06-30"]
    assert meter["energy_wh"] == pytest.approx(6000 * 0.5)  # the 30 minutes of the window
    metered = found["measured"]["metered_wh"]
    assert meter["delivered_wh"] == pytest.approx(3000 - metered)
    assert "(5 of 5)" in meter["rule"]
    plan = found["measured"]["baseline"]["plan"]
    assert plan["energy_wh"] == pytest.approx(found["baseline_wh"])
