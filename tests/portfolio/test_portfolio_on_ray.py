"""The portfolio on a real local Ray cluster (2 CPUs): three feeders on built-in
networks, two shard actors, a DR export event for the portfolio.

The reference is what a central planner with full information would do: it knows
each feeder's deliverable export (its own planner asked for far more than it can
give), splits the target by the same LP over those, and each feeder plans its
share. One plan over all feeders is not possible (they are separate networks with
separate grid models), and this is the best any split can do with the same
per-feeder planner, so the portfolio, which only sees the envelopes the shards
publish and what they planned, must come within 1 % of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import ray

from v2g.aggregator.state import SetPrices
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent
from v2g.portfolio.cluster import ray_shards, start_ray
from v2g.portfolio.config import ClusterConfig, FeederConfig
from v2g.portfolio.coordinator import Portfolio, PortfolioSnapshot
from v2g.portfolio.shard import FeederShard, FeederSummary
from v2g.portfolio.split import split_export
from v2g.session import SessionEvent
from v2g.testing import FakeClock
from v2g.testing.portfolio import generated_feeder

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
NETWORKS = (("lv", "cigre-lv"), ("dorf", "kerber-dorf"), ("eu", "ieee-eu-lv"))
EVENT = DemandResponseEvent("evt-peak", NOW, NOW + timedelta(hours=1), "export_w", 150_000)
PRICES = SetPrices(StepCurve.of([(NOW, 0.40), (NOW + timedelta(hours=4), 0.15)]))
CYCLES_AFTER_EVENT = 4


@dataclass
class Run:
    warm: PortfolioSnapshot
    after_event: list[PortfolioSnapshot]
    reference: dict[str, FeederSummary]
    cut: PortfolioSnapshot
    deadline_s: float
    #: The cycle after shard-1's worker process was killed, and that shard's feeders.
    after_kill: PortfolioSnapshot
    killed_feeders: tuple[str, ...]


def _feeders() -> list[tuple[FeederConfig, list[SessionEvent]]]:
    return [generated_feeder(name, net, 20, NOW, seed=i) for i, (name, net) in enumerate(NETWORKS)]


async def _portfolio_run(feeders: list[tuple[FeederConfig, list[SessionEvent]]]) -> Run:
    clock = FakeClock(NOW)
    shards = ray_shards([f for f, _ in feeders], 2, clock)
    for shard in shards:
        for feeder, events in feeders:
            if feeder.name in shard.feeders:
                for item in [*events, PRICES]:
                    assert (await shard.submit(feeder.name, item)).accepted
    portfolio = Portfolio(shards, clock, deadline_s=30.0)
    warm = await portfolio.cycle()
    assert portfolio.submit(EVENT).accepted
    after = [await portfolio.cycle() for _ in range(CYCLES_AFTER_EVENT)]
    portfolio.deadline_s = 0.001  # no shard plans that fast
    cut = await portfolio.cycle()
    portfolio.deadline_s = 30.0
    os.kill(await shards[1].pid(), signal.SIGKILL)
    after_kill = await portfolio.cycle()
    reference = await _reference(feeders, clock)
    return Run(warm, after, reference, cut, 0.001, after_kill, shards[1].feeders)


async def _reference(
    feeders: list[tuple[FeederConfig, list[SessionEvent]]], clock: FakeClock
) -> dict[str, FeederSummary]:
    """Each feeder's deliverable export, the LP split over those, each feeder's plan
    of its share (in this process, by the same planner)."""
    shards = {f.name: FeederShard([f], clock) for f, _ in feeders}
    for (feeder, events), shard in zip(feeders, shards.values(), strict=True):
        shard.submit_all({feeder.name: [*events, PRICES]})
    probe = DemandResponseEvent(EVENT.id, EVENT.start, EVENT.end, "export_w", 1e8, 1)
    capacity = {
        name: (await shard.plan({name: [probe]}))[0].export_w(EVENT.start, EVENT.end)
        for name, shard in shards.items()
    }
    shares = split_export(EVENT.value_w, capacity).shares_w
    planned = {}
    for name, shard in shards.items():
        share = DemandResponseEvent(EVENT.id, EVENT.start, EVENT.end, "export_w", shares[name], 2)
        planned[name] = (await shard.plan({name: [share]}))[0]
        shard.close()
    return planned


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    start_ray(ClusterConfig(num_cpus=2, object_store_mb=200), tmp_path_factory.mktemp("ray"))
    try:
        yield asyncio.run(_portfolio_run(_feeders()))
    finally:
        ray.shutdown()


def _delivered_w(feeders: dict[str, FeederSummary]) -> float:
    return sum(s.export_w(EVENT.start, EVENT.end) for s in feeders.values())


def test_the_split_meets_the_target_within_the_sum_of_the_shards_envelopes(run):
    for snapshot in run.after_event:
        split = snapshot.splits[EVENT.id]
        assert split.placed_w == pytest.approx(
            min(EVENT.value_w, sum(split.offers_w.values())), rel=1e-6
        )
        for feeder, share in split.shares_w.items():
            assert share <= split.offers_w[feeder] + 1e-3
    last = run.after_event[-1]
    assert last.splits[EVENT.id].placed_w == pytest.approx(EVENT.value_w)
    assert _delivered_w(dict(last.feeders)) == pytest.approx(EVENT.value_w, rel=0.01)


def test_every_feeder_plans_on_its_shard_and_passes_its_ac_check(run):
    for snapshot in [run.warm, *run.after_event]:
        assert sorted(snapshot.feeders) == sorted(name for name, _ in NETWORKS)
        assert not snapshot.cut
        for summary in snapshot.feeders.values():
            assert summary.vehicles == 20
            assert summary.grid_ok is True, (summary.feeder, summary.violations)
            assert summary.plan_ms > 0


def test_departures_are_kept_while_the_portfolio_delivers(run):
    for summary in run.after_event[-1].feeders.values():
        assert not [n for n in summary.notes if n.startswith("departure")], summary.notes


def test_dr_delivered_and_cost_match_the_full_information_split_within_one_percent(run):
    portfolio = dict(run.after_event[-1].feeders)
    assert _delivered_w(portfolio) == pytest.approx(_delivered_w(run.reference), rel=0.01)
    cost = sum(s.energy_cost for s in portfolio.values())
    reference_cost = sum(s.energy_cost for s in run.reference.values())
    planned_w, reference_w = _delivered_w(portfolio), _delivered_w(run.reference)
    print(
        f"DR {planned_w:.0f} W (reference {reference_w:.0f}),"
        f" cost {cost:.3f} ({reference_cost:.3f})"
    )
    assert cost == pytest.approx(reference_cost, rel=0.01)


def test_a_shard_late_for_the_deadline_is_cut_and_reported_not_waited_for(run):
    assert sorted(run.cut.cut) == ["shard-0", "shard-1"]
    assert run.cut.cycle_ms < 1000 * run.deadline_s + 500
    # The feeders' last plans stay in the snapshot (their setpoints stay in force until
    # their valid_until, then fall back to a power that never discharges).
    assert run.cut.feeders == run.after_event[-1].feeders


def test_a_killed_shard_is_cut_and_its_share_goes_to_the_healthy_ones_in_that_cycle(run):
    assert run.after_kill.cut == ("shard-1",)
    split = run.after_kill.splits[EVENT.id]
    healthy = sorted(set(split.offers_w))
    assert healthy == sorted(n for n, _ in NETWORKS if n not in run.killed_feeders)
    assert split.placed_w == pytest.approx(
        min(EVENT.value_w, sum(split.offers_w.values())), rel=1e-6
    )
    for name in healthy:
        assert run.after_kill.feeders[name].grid_ok is True
