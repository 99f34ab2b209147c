"""The store keeps a bounded history: the newest N plans, and DR events until a
configured time after they ended or were cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.service.config import parse_site_config
from v2g.store import SqlEventStore, SqlPlanStore, open_store, sqlite_url
from v2g.store.schema import dr_events
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
DAY_S = 86_400.0


async def test_only_the_newest_plans_are_kept(tmp_path):
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    store = SqlPlanStore(engine, keep_rows=3)
    fleet = FleetBuilder(T0).vehicle("a", departure=T0 + timedelta(hours=8)).fleet
    settings = PlannerSettings(slot_s=3600, slots=2, setpoint_valid_s=600)
    made = []
    for minute in range(7):
        now = T0 + timedelta(minutes=minute)
        made.append(
            plan_dispatch(PlanInputs(now, fleet, EventBook()), CapacityGrid(1e6), settings)
        )
        await store.save(made[-1])
        assert await store.count() == min(minute + 1, 3)
    assert await store.latest(10) == [p.as_dict() for p in reversed(made[-3:])]
    await engine.dispose()


async def test_dr_events_are_dropped_a_retention_after_they_ended_or_were_cancelled(tmp_path):
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    store = SqlEventStore(engine, keep_ended_s=2 * DAY_S)
    old = DemandResponseEvent("old", T0, T0 + timedelta(hours=1), "export_w", 5_000)
    cancelled = DemandResponseEvent("cancelled", T0, T0 + timedelta(days=9), "shed_w", 1_000)
    recent = DemandResponseEvent(
        "recent", T0 + timedelta(days=2), T0 + timedelta(days=3), "shed_w", 1
    )
    for event in (old, cancelled, recent):
        await store.save(event, "http", T0)
    await store.cancel("cancelled", T0 + timedelta(hours=2))
    assert await store.prune(T0 + timedelta(days=1)) == 0
    assert await store.prune(T0 + timedelta(days=2, hours=3)) == 2
    book = await store.book()
    assert set(book.events) == {"recent"} and not book.cancelled
    # Saving prunes too, in the same write.
    later = DemandResponseEvent(
        "later", T0 + timedelta(days=9), T0 + timedelta(days=10), "shed_w", 1
    )
    await store.save(later, "http", T0 + timedelta(days=6))
    assert set((await store.book()).events) == {"later"}
    await engine.dispose()


def test_retention_is_configured_in_the_store_section():
    config = parse_site_config({"store": {"keep_plans": 500, "keep_ended_dr_events_s": DAY_S}})
    assert (config.keep_plans, config.keep_ended_dr_events_s) == (500, DAY_S)
    # The configuration error (a ValueError) lists every problem.
    with pytest.raises(ValueError) as raised:
        parse_site_config({"store": {"keep_plans": 0, "keep_ended_dr_events_s": -5}})
    assert any("store.keep_plans" in p for p in raised.value.problems)
    assert any("store.keep_ended_dr_events_s" in p for p in raised.value.problems)


async def test_a_stored_event_with_an_id_refused_today_does_not_stop_a_restart(tmp_path):
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    store = SqlEventStore(engine)
    good = DemandResponseEvent("good", T0, T0 + timedelta(hours=1), "export_w", 5_000)
    await store.save(good, "http", T0)
    async with engine.begin() as connection:  # as an older version stored it
        await connection.execute(
            dr_events.insert().values(
                event_id="evt\nforged",
                modification_number=0,
                start=T0,
                end=T0 + timedelta(hours=1),
                kind="export_w",
                value_w=1.0,
                channel="http",
                received_at=T0,
            )
        )
    assert set((await store.book()).events) == {"good"}
    await engine.dispose()
