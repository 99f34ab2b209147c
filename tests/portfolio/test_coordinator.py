"""The coordinator's cycle with shards in this process whose feeders hold what their
grid lets out: the split learns it, cancels shares no longer wanted, refuses what it
cannot split, and never waits for a late shard."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from v2g.aggregator.state import CancelEvent, Input
from v2g.demand_response import DemandResponseEvent
from v2g.portfolio.coordinator import Portfolio
from v2g.portfolio.shard import FeederSummary
from v2g.portfolio.split import PublishedEnvelope
from v2g.testing import FakeClock

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
BOUNDS = (NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2))
EVENT = DemandResponseEvent("evt", NOW, NOW + timedelta(hours=1), "export_w", 60_000)


def _flat(power_w: float) -> PublishedEnvelope:
    return PublishedEnvelope(BOUNDS, (power_w, power_w), (11_000.0, 11_000.0))


@dataclass
class GridBoundShard:
    """Feeders whose vehicles offer ``offer_w`` each, of which their grid lets
    ``grid_w`` out; a plan takes ``plan_s``."""

    name: str
    feeders: tuple[str, ...]
    offer_w: float = 50_000.0
    grid_w: Mapping[str, float] = field(default_factory=dict)
    plan_s: float = 0.0
    orders: list[Mapping[str, Sequence[Input]]] = field(default_factory=list)
    shares: dict[str, float] = field(default_factory=dict)

    async def envelopes(self) -> dict[str, PublishedEnvelope | None]:
        return {f: _flat(-self.offer_w) for f in self.feeders}

    async def plan(self, orders: Mapping[str, Sequence[Input]]) -> list[FeederSummary]:
        self.orders.append(orders)
        for feeder, items in orders.items():
            for item in items:
                if isinstance(item, DemandResponseEvent):
                    self.shares[feeder] = item.value_w
                elif isinstance(item, CancelEvent):
                    self.shares.pop(feeder, None)
        await asyncio.sleep(self.plan_s)
        return [self._summary(f) for f in self.feeders]

    def _summary(self, feeder: str) -> FeederSummary:
        held_w = min(self.shares.get(feeder, 0.0), self.grid_w.get(feeder, float("inf")))
        return FeederSummary(feeder, "test", 5, 1.0, planned=_flat(-held_w), grid_ok=True)


async def test_a_feeder_short_of_its_share_offers_what_it_held_and_the_rest_moves():
    shard = GridBoundShard("s", ("strong", "weak"), grid_w={"weak": 10_000.0})
    portfolio = Portfolio([shard], FakeClock(NOW))
    assert portfolio.submit(EVENT).accepted
    first = await portfolio.cycle()
    assert first.splits["evt"].shares_w == pytest.approx({"strong": 30_000, "weak": 30_000})
    second = await portfolio.cycle()
    assert second.splits["evt"].shares_w == pytest.approx({"strong": 50_000, "weak": 10_000})
    held = sum(s.export_w(EVENT.start, EVENT.end) for s in second.feeders.values())
    assert held == pytest.approx(EVENT.value_w)


async def test_a_share_no_longer_wanted_is_cancelled_on_its_feeder():
    shard = GridBoundShard("s", ("a", "b"), grid_w={"b": 0.0})
    portfolio = Portfolio([shard], FakeClock(NOW))
    portfolio.submit(EVENT)
    await portfolio.cycle()
    await portfolio.cycle()
    assert [type(i) for i in shard.orders[-1]["b"]] == [CancelEvent]
    assert shard.shares == {"a": pytest.approx(50_000)}


async def test_an_older_revision_is_refused_and_the_book_is_unchanged():
    portfolio = Portfolio([GridBoundShard("s", ("a",))], FakeClock(NOW))
    assert portfolio.submit(replace(EVENT, modification_number=2)).accepted
    before = portfolio.events
    outcome = portfolio.submit(replace(EVENT, modification_number=1))
    assert not outcome.accepted
    assert portfolio.events is before


@pytest.mark.parametrize(
    ("kind", "value_w", "shares_w"),
    [
        # Nothing must import and nothing planned to: the limit is shared evenly, and
        # a feeder's limit of 0 W would still be a limit.
        ("import_limit_w", 20_000.0, {"a": 10_000.0, "b": 10_000.0}),
        # Nothing planned to import, so there is nothing to shed.
        ("shed_w", 5_000.0, {}),
    ],
)
async def test_import_limits_and_sheds_reach_each_feeder_as_its_share_of_the_same_kind(
    kind, value_w, shares_w
):
    shard = GridBoundShard("s", ("a", "b"))
    portfolio = Portfolio([shard], FakeClock(NOW))
    event = DemandResponseEvent("cap", NOW, NOW + timedelta(hours=1), kind, value_w)
    assert portfolio.submit(event).accepted
    await portfolio.cycle()
    sent = {
        feeder: item
        for feeder, items in shard.orders[-1].items()
        for item in items
        if isinstance(item, DemandResponseEvent)
    }
    assert {f: e.value_w for f, e in sent.items()} == pytest.approx(shares_w)
    assert all(e.kind == kind and e.id == f"cap@{f}" for f, e in sent.items())


async def test_a_late_shard_is_cut_at_the_deadline_and_the_others_plan():
    slow = GridBoundShard("slow", ("x",), plan_s=5.0)
    quick = GridBoundShard("quick", ("y",))
    portfolio = Portfolio([slow, quick], FakeClock(NOW), deadline_s=0.3)
    portfolio.submit(EVENT)
    snapshot = await portfolio.cycle()
    assert snapshot.cut == ("slow",)
    assert snapshot.cycle_ms < 1000
    assert sorted(snapshot.feeders) == ["y"]


@dataclass
class DeadShard(GridBoundShard):
    """A shard whose worker died: every call fails."""

    async def envelopes(self) -> dict[str, PublishedEnvelope | None]:
        raise ConnectionError("the actor died")


async def test_a_failed_shard_is_revived_for_the_next_cycle_and_a_late_one_is_not():
    revived: list[str] = []

    async def revive(shard):
        revived.append(shard.name)
        return GridBoundShard(shard.name, shard.feeders)

    dead = DeadShard("dead", ("a",))
    late = GridBoundShard("late", ("b",), plan_s=1.0)
    portfolio = Portfolio([dead, late], FakeClock(NOW), deadline_s=0.2, revive=revive)
    assert portfolio.submit(EVENT).accepted
    first = await portfolio.cycle()
    assert sorted(first.cut) == ["dead", "late"] and revived == ["dead"]
    assert portfolio.shards[1] is late
    portfolio.deadline_s = 5.0
    second = await portfolio.cycle()
    assert second.cut == () and second.fresh == {"a", "b"}
    assert revived == ["dead"]
    assert second.share_w("a") > 0  # the revived shard is split to at once


async def test_a_revival_that_fails_leaves_the_shard_cut_and_is_tried_again():
    tries: list[str] = []

    async def revive(shard):
        tries.append(shard.name)
        raise RuntimeError("no CPU for it")

    portfolio = Portfolio([DeadShard("dead", ("a",))], FakeClock(NOW), revive=revive)
    assert (await portfolio.cycle()).cut == ("dead",)
    assert (await portfolio.cycle()).cut == ("dead",)
    assert tries == ["dead", "dead"]
