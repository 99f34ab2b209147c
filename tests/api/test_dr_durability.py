"""Store first, then apply: a DR event the store could not keep is refused (503),
changes nothing in memory, shows in the health resource, and a retry is taken
afresh once the store works; the same revision sent again is accepted again."""

from __future__ import annotations

import sqlite3

from tests.api.test_bad_requests import GOOD_EVENT
from v2g.store import SqlEventStore


class FailingWrites:
    """Makes ``store``'s writes fail (as a locked or full database does) while on."""

    def __init__(self, store: SqlEventStore) -> None:
        self.on = True
        self._save, self._cancel = store.save, store.cancel
        store.save = self.save  # type: ignore[method-assign]
        store.cancel = self.cancel  # type: ignore[method-assign]

    async def save(self, *args):
        if self.on:
            raise sqlite3.OperationalError("database is locked")
        await self._save(*args)

    async def cancel(self, *args):
        if self.on:
            raise sqlite3.OperationalError("database or disk is full")
        await self._cancel(*args)


async def post_event(api, body=GOOD_EVENT):
    return await api.client.post("/api/v1/dr-events", json=body, headers=api.auth("utility"))


async def health(api):
    return await (await api.client.get("/api/v1/health")).json()


async def test_an_event_the_store_refused_is_not_applied_and_health_says_so(api):
    failing = FailingWrites(api.services.intake._store)
    before = api.services.aggregator.state
    response = await post_event(api)
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert "not stored" in (await response.json())["detail"]
    assert api.services.aggregator.state.events is before.events
    assert await SqlEventStore(api.engine).book() == before.events
    report = await health(api)
    assert report["status"] == "degraded"
    assert report["store"]["failing"] and report["store"]["failures"] == 1
    assert "database is locked" in report["store"]["last_error"]
    assert any("DR store write failed" in note for note in report["notes"])

    failing.on = False
    retry = await post_event(api)
    assert retry.status == 201  # taken afresh, not "already accepted"
    assert "evt-1" in api.services.aggregator.state.events.events
    assert "evt-1" in (await SqlEventStore(api.engine).book()).events  # survives a restart
    report = await health(api)
    assert report["status"] == "ok" and report["store"]["failures"] == 1


async def test_the_same_revision_sent_again_is_accepted_again_and_changes_nothing(api):
    assert (await post_event(api)).status == 201
    state = api.services.aggregator.state
    again = await post_event(api)
    assert again.status == 200
    assert (await again.json())["accepted"] is True
    assert api.services.aggregator.state is state


async def test_a_cancellation_the_store_refused_leaves_the_event_running(api):
    assert (await post_event(api)).status == 201
    failing = FailingWrites(api.services.intake._store)
    response = await api.client.delete("/api/v1/dr-events/evt-1", headers=api.auth("utility"))
    assert response.status == 503
    assert "evt-1" in api.services.aggregator.state.events.events
    assert "evt-1" in (await SqlEventStore(api.engine).book()).events
    failing.on = False
    response = await api.client.delete("/api/v1/dr-events/evt-1", headers=api.auth("utility"))
    assert response.status == 200
    assert "evt-1" not in (await SqlEventStore(api.engine).book()).events
