"""A shard whose worker dies (a real SIGKILL) is restarted for the same feeders, its
fleets rebuilt from the sessions the store holds open (PostgreSQL where a server is
given): its vehicles are planned again with no station sending anything, and the
portfolio's DR event reaches it again once, neither lost nor doubled."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import ray

from tests.store.postgres import fresh_database
from v2g.demand_response import DemandResponseEvent
from v2g.portfolio.cluster import ray_shards, start_ray
from v2g.portfolio.config import ClusterConfig, PortfolioConfig
from v2g.portfolio.coordinator import PortfolioSnapshot, share_id
from v2g.portfolio.service import coordinated
from v2g.service.config import SiteConfig
from v2g.session import SessionEvent
from v2g.store import SqlSessionStore, open_store, sqlite_url
from v2g.store.owners import FEEDER, SqlOwners
from v2g.testing import FakeClock
from v2g.testing.portfolio import generated_feeder

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
EVENT = DemandResponseEvent("evt-peak", NOW, NOW + timedelta(hours=1), "export_w", 20_000)


@dataclass
class Run:
    before: PortfolioSnapshot
    killed: PortfolioSnapshot
    after: PortfolioSnapshot
    pids: tuple[int, int]
    events_after: list[str]
    feeder: str
    holders: dict[str, tuple[str, int]]


def sessions_of(snapshot: PortfolioSnapshot, feeder: str) -> set[tuple[str, str | None]]:
    return {(e, s.session_id) for e, s in snapshot.feeders[feeder].setpoints.items()}


async def _run(url: str) -> Run:
    clock = FakeClock(NOW)
    feeders = [
        generated_feeder(n, net, 6, NOW, seed=i)
        for i, (n, net) in enumerate((("lv", "cigre-lv"), ("dorf", "kerber-dorf")))
    ]
    engine = await open_store(url)
    try:
        store = SqlSessionStore(engine)
        events: list[SessionEvent] = [e for _, batch in feeders for e in batch]
        await store.record_all(events)  # as the serve process's SessionFeed stores them
        shards = ray_shards([f for f, _ in feeders], 2, clock)
        for shard, (feeder, batch) in zip(shards, feeders, strict=True):
            assert all(o.accepted for o in await shard.submit_all({feeder.name: batch}))
        config = PortfolioConfig(ClusterConfig(), tuple(f for f, _ in feeders), SiteConfig())
        owners = SqlOwners(engine)
        # As v2g serve puts them together: the shards recorded as their feeders' holders.
        portfolio, _ = await coordinated(config, shards, engine, owners, clock)
        portfolio.deadline_s = 30.0
        assert portfolio.submit(EVENT).accepted
        for _ in range(3):
            before = await portfolio.cycle()
        victim = shards[1]
        pid = await victim.pid()
        os.kill(pid, signal.SIGKILL)
        killed = await portfolio.cycle()  # cut, then restarted for the next cycle
        after = await portfolio.cycle()
        restarted = portfolio.shards[1]
        feeder = victim.feeders[0]
        held = await owners.held(FEEDER)
        return Run(
            before,
            killed,
            after,
            (pid, await restarted.pid()),  # type: ignore[attr-defined]
            await restarted.dr_event_ids(feeder),  # type: ignore[attr-defined]
            feeder,
            {name: (o.owner, o.pid) for name, o in held.items()},
        )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    async def with_store() -> Run:
        async with fresh_database() as url:
            folder: Path = tmp_path_factory.mktemp("store")
            return await _run(url or sqlite_url(folder / "v2g.db"))

    start_ray(ClusterConfig(num_cpus=2, object_store_mb=200), tmp_path_factory.mktemp("ray"))
    try:
        yield asyncio.run(with_store())
    finally:
        ray.shutdown()


def test_the_killed_shard_is_cut_in_its_cycle_and_runs_again_in_a_new_worker(run):
    assert run.killed.cut == ("shard-1",)
    assert run.after.cut == ()
    assert run.pids[0] != run.pids[1]
    assert run.feeder in run.after.fresh


def test_the_store_names_the_restarted_worker_as_the_feeders_holder(run):
    assert run.holders[run.feeder] == ("shard-1", run.pids[1])
    assert run.holders["lv"][0] == "shard-0"


def test_the_restarted_shard_plans_the_same_vehicles_from_the_store(run):
    before = run.before.feeders[run.feeder]
    after = run.after.feeders[run.feeder]
    assert after.vehicles == before.vehicles == 6
    assert sessions_of(run.after, run.feeder) == sessions_of(run.before, run.feeder)
    assert after.grid_ok is True


def test_the_portfolio_event_reaches_the_restarted_shard_once(run):
    assert run.events_after == [share_id(EVENT.id, run.feeder)]
    split = run.after.splits[EVENT.id]
    assert split.placed_w <= EVENT.value_w + 1e-6
    assert split.placed_w == pytest.approx(min(EVENT.value_w, sum(split.offers_w.values())))
    assert run.before.share_w(run.feeder) > 0
    assert run.after.share_w(run.feeder) == pytest.approx(run.before.share_w(run.feeder), rel=0.2)
