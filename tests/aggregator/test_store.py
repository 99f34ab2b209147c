"""The store keeps DR events, sessions and plans across a restart (SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from v2g.demand_response import DemandResponseEvent
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlEventStore, SqlSessionStore, open_store, sqlite_url

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


async def test_dr_events_and_cancellations_survive_a_restart(tmp_path):
    url = sqlite_url(tmp_path / "v2g.db")
    engine = await open_store(url)
    store = SqlEventStore(engine)
    first = DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=2), "export_w", 20_000)
    revised = DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=3), "export_w", 25_000, 2)
    other = DemandResponseEvent("evt-2", T0, T0 + timedelta(hours=1), "shed_w", 5_000)
    for event in (first, revised, other):
        await store.save(event, "http", T0)
    await store.cancel("evt-2", T0 + timedelta(minutes=5))
    await engine.dispose()

    engine = await open_store(url)
    book = await SqlEventStore(engine).book()
    await engine.dispose()
    assert dict(book.events) == {"evt-1": revised}
    assert "evt-2" in book.cancelled


async def test_sessions_and_meter_values_are_kept(tmp_path):
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    store = SqlSessionStore(engine)
    await store.record(SessionStarted("evse-1", "s-1", T0, "ev-1", "iso20"))
    await store.record(PowerMeasured("evse-1", "s-1", T0 + timedelta(seconds=5), -7_000.0, 61.0))
    await store.record(SessionEnded("evse-1", "s-1", T0 + timedelta(hours=1), "unplugged"))
    [session] = await store.sessions()
    assert session["end_reason"] == "unplugged"
    [value] = await store.meter_values("s-1")
    assert value["power_w"] == -7_000.0
    await engine.dispose()


async def test_the_intake_stores_accepted_events_and_ignores_stale_revisions(tmp_path):
    from v2g.aggregator import Aggregator, RecordingLink
    from v2g.aggregator.intake import DemandResponseIntake
    from v2g.fleet import Site
    from v2g.testing import FakeClock
    from v2g.testing.grid import CapacityGrid

    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    store = SqlEventStore(engine)
    aggregator = Aggregator(Site({}), CapacityGrid(1e6), RecordingLink(), FakeClock(T0))
    intake = DemandResponseIntake(aggregator, store)
    newer = DemandResponseEvent("evt-7", T0, T0 + timedelta(hours=1), "shed_w", 9_000, 3)
    older = DemandResponseEvent("evt-7", T0, T0 + timedelta(hours=1), "shed_w", 1_000, 2)
    assert (await intake.receive(newer, "http")).accepted
    stale = await intake.receive(older, "http")
    assert not stale.accepted and "rev 3 is already accepted" in stale.reason
    assert dict((await store.book()).events) == {"evt-7": newer}
    assert (await intake.cancel("evt-7")).accepted
    assert "evt-7" in (await store.book()).cancelled
    aggregator.close()
    await engine.dispose()
