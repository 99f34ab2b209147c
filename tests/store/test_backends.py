"""The store on SQLite (WAL) and PostgreSQL: everything survives a restart, concurrent
writers lose nothing, tokens are never kept in clear."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import (
    AuditEntry,
    SqlAuditStore,
    SqlEventStore,
    SqlPlanStore,
    SqlSessionStore,
    SqlTokenStore,
    open_store,
)
from v2g.store.schema import metadata
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def entry(actor: str, n: int) -> AuditEntry:
    return AuditEntry(T0, actor, "operator", "set_fleet_cap", {"power_w": n}, True, "ok")


async def test_sessions_events_plans_audit_and_tokens_survive_a_restart(store_url):
    engine = await open_store(store_url)
    sessions = SqlSessionStore(engine)
    await sessions.record(SessionStarted("evse-1", "s-1", T0, "ev-1", "iso20-dc-bpt"))
    await sessions.record(PowerMeasured("evse-1", "s-1", T0 + timedelta(seconds=5), -7000, 61))
    await sessions.record(SessionEnded("evse-1", "s-1", T0 + timedelta(hours=1), "unplugged"))
    event = DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=2), "export_w", 20_000, 3)
    await SqlEventStore(engine).save(event, "http", T0)
    builder = FleetBuilder(T0).vehicle("a", departure=T0 + timedelta(hours=8))
    book, _ = EventBook().accept(event)
    plan = plan_dispatch(
        PlanInputs(T0, builder.fleet, book),
        CapacityGrid(1e6),
        PlannerSettings(slot_s=3600, slots=4, setpoint_valid_s=600),
    )
    await SqlPlanStore(engine).save(plan)
    await SqlAuditStore(engine).record(entry("tok1", 1))
    holder, token = await SqlTokenStore(engine).create("viewer", T0)
    await engine.dispose()

    engine = await open_store(store_url)
    try:
        [session] = await SqlSessionStore(engine).sessions()
        assert session["end_reason"] == "unplugged"
        [value] = await SqlSessionStore(engine).meter_values("s-1")
        assert value["power_w"] == -7000
        assert dict((await SqlEventStore(engine).book()).events) == {"evt-1": event}
        [stored_plan] = await SqlPlanStore(engine).latest()
        assert stored_plan == plan.as_dict()
        [audit] = await SqlAuditStore(engine).entries()
        assert audit == entry("tok1", 1)
        assert await SqlTokenStore(engine).find(token) == holder
    finally:
        await engine.dispose()


async def test_concurrent_writers_on_their_own_connections_lose_no_rows(store_url):
    engines = [await open_store(store_url) for _ in range(4)]
    try:

        async def writer(k: int) -> None:
            audit = SqlAuditStore(engines[k])
            sessions = SqlSessionStore(engines[k])
            await sessions.record(SessionStarted(f"evse-{k}", f"s-{k}", T0, None, "din-dc"))
            for n in range(25):
                await audit.record(entry(f"writer-{k}", n))
                await sessions.record(
                    PowerMeasured(f"evse-{k}", f"s-{k}", T0 + timedelta(seconds=n), 1000.0 * n)
                )

        await asyncio.gather(*(writer(k) for k in range(4)))
        entries = await SqlAuditStore(engines[0]).entries(limit=1000)
        assert len(entries) == 100
        assert {(e.actor, e.body["power_w"]) for e in entries} == {
            (f"writer-{k}", n) for k in range(4) for n in range(25)
        }
        for k in range(4):
            assert len(await SqlSessionStore(engines[0]).meter_values(f"s-{k}")) == 25
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_token_is_kept_only_as_a_hash_and_a_revoked_one_no_longer_works(store_url):
    engine = await open_store(store_url)
    try:
        store = SqlTokenStore(engine)
        holder, token = await store.create("operator", T0)
        assert holder.role == "operator" and token.startswith(f"v2g_{holder.token_id}_")
        assert await store.find(token) == holder
        assert await store.find(token + "x") is None
        assert await store.find("not-a-token") is None

        # The secret itself may contain "_" (urlsafe base64): cut the known prefix.
        secret = token.removeprefix(f"v2g_{holder.token_id}_")
        async with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in await connection.execute(select(table)):
                    assert not any(secret in str(value) for value in row)

        assert await store.revoke(holder.token_id, T0 + timedelta(minutes=1))
        assert await store.find(token) is None
    finally:
        await engine.dispose()
