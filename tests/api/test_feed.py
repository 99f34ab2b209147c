"""The snapshot feed keeps the event loop free: the feeder's AC power flow runs in a
worker thread, and the view shows it once it is ready."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from v2g.aggregator import Aggregator, RecordingLink, Snapshot
from v2g.api.feed import Profile, SnapshotFeed
from v2g.dispatch import PlannerSettings
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


class BlockedProfile:
    """A feeder profile that waits until released and notes the thread it ran on."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []

    def __call__(self, snapshot: Snapshot) -> dict[str, Any] | None:
        self.threads.append(threading.current_thread().name)
        self.release.wait(timeout=10)
        return {"cycle": snapshot.cycle}


def _aggregator() -> Aggregator:
    builder = v2g_pair(T0, stay_h=13)
    settings = PlannerSettings(slot_s=3600, slots=4, setpoint_valid_s=600)
    agg = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), FakeClock(T0), settings)
    for event in builder.events:
        assert agg.submit(event).accepted
    return agg


@contextmanager
def _fed(profile: Profile) -> Iterator[tuple[Aggregator, SnapshotFeed]]:
    """An aggregator whose snapshots go to a feed with ``profile``; closed after."""
    feed = SnapshotFeed("test feeder", profile)
    agg = _aggregator()
    agg.subscribe(feed.publish)
    try:
        yield agg, feed
    finally:
        if isinstance(profile, BlockedProfile):
            profile.release.set()
        feed.close()
        agg.close()


def _profile_of(feed: SnapshotFeed) -> object:
    assert feed.view is not None
    return json.loads(feed.view.grid)["profile"]


async def test_a_slow_feeder_profile_does_not_hold_up_the_cycle_or_the_loop():
    profile = BlockedProfile()
    with _fed(profile) as (agg, feed):
        snapshot = await asyncio.wait_for(agg.cycle(), timeout=5)
        # The cycle has published while the power flow is still blocked.
        assert feed.view is not None and feed.view.cycle == snapshot.cycle
        assert _profile_of(feed) is None
        await asyncio.sleep(0)  # the loop still turns
        profile.release.set()
        await asyncio.wait_for(feed.settled(), timeout=5)
        assert _profile_of(feed) == {"cycle": snapshot.cycle}
        assert profile.threads and all(t != threading.main_thread().name for t in profile.threads)


async def test_snapshots_arriving_during_a_profile_are_coalesced_to_the_latest():
    profile = BlockedProfile()
    with _fed(profile) as (agg, feed):
        await agg.cycle()
        await agg.cycle()
        last = await agg.cycle()
        profile.release.set()
        await asyncio.wait_for(feed.settled(), timeout=5)
        # The first profile, then only the latest snapshot's: the middle one is skipped.
        assert len(profile.threads) == 2
        assert _profile_of(feed) == {"cycle": last.cycle}


async def test_a_failing_profile_leaves_the_rest_of_the_view_served():
    def broken(_snapshot: Snapshot) -> dict[str, Any] | None:
        raise RuntimeError("power flow did not converge")

    with _fed(broken) as (agg, feed):
        snapshot = await agg.cycle()
        await asyncio.wait_for(feed.settled(), timeout=5)
        assert feed.view is not None and feed.view.cycle == snapshot.cycle
        assert _profile_of(feed) is None
        assert json.loads(feed.view.plan)["cycle"] == snapshot.cycle


def test_without_an_event_loop_the_profile_is_computed_in_place():
    feed = SnapshotFeed("test feeder", lambda s: {"cycle": s.cycle})
    snapshot = Snapshot(T0 + timedelta(minutes=5), 7, _aggregator().state, None, 0.0)
    feed.publish(snapshot)
    assert _profile_of(feed) == {"cycle": 7}
    feed.close()
