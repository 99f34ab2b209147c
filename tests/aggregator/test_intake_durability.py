"""Property: whatever order DR events, revisions, cancellations and store failures come
in, the events shaping plans are exactly the events the store would restore."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.demand_response import DemandResponseEvent
from v2g.fleet import Site
from v2g.store import SqlEventStore, open_store, sqlite_url
from v2g.testing import FakeClock
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


class FlakyStore(SqlEventStore):
    """A real SQLite event store whose next write fails when told to."""

    fail_next = False

    async def save(self, *args):  # type: ignore[no-untyped-def]
        self._maybe_fail()
        await super().save(*args)

    async def cancel(self, *args):  # type: ignore[no-untyped-def]
        self._maybe_fail()
        await super().cancel(*args)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("database is locked")


step = st.tuples(
    st.sampled_from(["send", "cancel"]),
    st.sampled_from(["evt-a", "evt-b", "evt-c"]),
    st.integers(0, 3),  # revision
    st.booleans(),  # this write fails
)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_what_shapes_plans_is_what_a_restart_restores(steps):
    async def run(folder: Path) -> None:
        engine = await open_store(sqlite_url(folder / "v2g.db"))
        store = FlakyStore(engine)
        aggregator = Aggregator(Site.of([]), CapacityGrid(1e6), RecordingLink(), FakeClock(T0))
        intake = DemandResponseIntake(aggregator, store)
        for action, event_id, revision, fails in steps:
            store.fail_next = fails
            before = aggregator.state.events
            if action == "send":
                event = DemandResponseEvent(
                    event_id, T0, T0 + timedelta(hours=1 + revision), "export_w", 1000, revision
                )
                outcome = await intake.receive(event, "test")
            else:
                outcome = await intake.cancel(event_id)
            if "not stored" in outcome.reason:
                assert not outcome.accepted and aggregator.state.events is before
            restored = await SqlEventStore(engine).book()
            assert dict(restored.events) == dict(aggregator.state.events.events)
            assert restored.cancelled == aggregator.state.events.cancelled
        aggregator.close()
        await engine.dispose()

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder)))
