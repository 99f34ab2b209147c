"""The portfolio coordinator: takes the utility's DR events for the portfolio, splits
each across the feeders from the envelopes their shards publish (an export by
``split_export``; an import limit or a shed by what each feeder must and plans to
import), and has the shards plan in parallel, within a cycle deadline. Each feeder
gets its share as a DR event of the same kind, which its planner weighs like any.

A shard that has not answered by the deadline is cut: its feeders keep their last
plan (whose setpoints run out to non-discharging fallbacks at their ``valid_until``),
the cut is reported in the snapshot, and the coordinator never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from v2g.aggregator.cycle import woken
from v2g.aggregator.state import CancelEvent, Input
from v2g.clock import Clock
from v2g.demand_response import DemandResponseEvent, EventBook, Outcome
from v2g.portfolio.shard import FeederSummary
from v2g.portfolio.split import (
    PublishedEnvelope,
    Split,
    split_export,
    split_import_limit,
    split_shed,
)

logger = logging.getLogger(__name__)
#: A feeder whose plan holds less of its share than this (W, and share of it) fell short.
SHORT_W, SHORT_SHARE = 100.0, 0.01
#: A smaller share is no share: the feeder gets no event (an export_w event of 0 W
#: would hold its net power at 0, stopping the charging its departures need).
MIN_SHARE_W = 1.0
Answer = TypeVar("Answer")


class Shard(Protocol):
    """What the coordinator asks of a shard (a Ray actor on a cluster)."""

    name: str
    feeders: tuple[str, ...]

    def envelopes(self) -> Awaitable[dict[str, PublishedEnvelope | None]]: ...

    def plan(self, orders: Mapping[str, Sequence[Input]]) -> Awaitable[list[FeederSummary]]: ...


@dataclass(frozen=True)
class PortfolioSnapshot:
    """One portfolio cycle: each feeder's latest summary, each event's split, the
    shards cut at the deadline, and how long the cycle and the coordinator took."""

    at: datetime
    cycle: int
    feeders: Mapping[str, FeederSummary]
    splits: Mapping[str, Split] = field(default_factory=dict)
    cut: tuple[str, ...] = ()
    cycle_ms: float = 0.0
    coordinator_ms: float = 0.0
    #: The feeders planned in this cycle (the others kept their last summary).
    fresh: frozenset[str] = frozenset()

    def share_w(self, feeder: str) -> float:
        return float(sum(s.shares_w.get(feeder, 0.0) for s in self.splits.values()))

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "cycle": self.cycle,
            "cycle_ms": round(self.cycle_ms, 1),
            "coordinator_ms": round(self.coordinator_ms, 2),
            "cut": list(self.cut),
            "events": [
                {
                    "id": event_id,
                    "target_w": split.target_w,
                    "placed_w": round(split.placed_w, 1),
                    "offers_w": {k: round(v, 1) for k, v in split.offers_w.items()},
                }
                for event_id, split in sorted(self.splits.items())
            ],
            "feeders": [
                {**summary.as_dict(), "share_w": round(self.share_w(name), 1)}
                for name, summary in sorted(self.feeders.items())
            ],
        }


def share_event(
    event: DemandResponseEvent, feeder: str, share_w: float, revision: int
) -> DemandResponseEvent:
    """``feeder``'s share of the portfolio's ``event``, as its own DR event."""
    return DemandResponseEvent(
        id=share_id(event.id, feeder),
        start=event.start,
        end=event.end,
        kind=event.kind,
        value_w=share_w,
        modification_number=revision,
    )


def share_id(event_id: str, feeder: str) -> str:
    return f"{event_id}@{feeder}"


async def _within(
    calls: Mapping[str, Awaitable[Answer]], timeout_s: float, failed: set[str] | None = None
) -> tuple[dict[str, Answer], list[str]]:
    """The answers that came within ``timeout_s`` by name, and the names cut (late or
    failed: logged; the failed ones also added to ``failed``). The late calls are left
    to finish on their own, never awaited."""
    tasks = {name: asyncio.ensure_future(call) for name, call in calls.items()}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=max(timeout_s, 0.0))
    answers, cut = {}, []
    for name, task in tasks.items():
        if not task.done():
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            cut.append(name)
        elif task.exception() is not None:
            logger.warning("shard %s failed: %s", name, task.exception())
            cut.append(name)
            if failed is not None:
                failed.add(name)
        else:
            answers[name] = task.result()
    return answers, cut


class Portfolio:
    """The coordinator of ``shards`` (each holding one or more feeders)."""

    def __init__(
        self,
        shards: Sequence[Shard],
        clock: Clock,
        deadline_s: float = 10.0,
        mv_export_cap_w: float | None = None,
        revive: Callable[[Shard], Awaitable[Shard]] | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        """``revive``: a shard in place of one that failed (its worker died), its
        feeders' state rebuilt; without it a failed shard stays cut. ``wake``: set by
        whoever wants a cycle now (the session intake, at a plug-in)."""
        self.shards = list(shards)
        self.revive = revive
        self.clock = clock
        self.deadline_s = deadline_s
        self.mv_export_cap_w = mv_export_cap_w
        self.events = EventBook()
        self._sent: set[tuple[str, str]] = set()  # (event id, feeder) shares handed out
        #: What a feeder's plan held of its share when it fell short, by (event id,
        #: feeder): the feeder offers no more than that for the rest of the event (its
        #: envelope knows the vehicles, not the grid), and the rest goes elsewhere.
        self.learned_w: dict[tuple[str, str], float] = {}
        self._cycle = 0
        self._latest: PortfolioSnapshot | None = None
        #: Set to run a cycle now (a DR event came or went, a vehicle plugged in).
        self.wake = wake or asyncio.Event()
        self._listeners: list[Callable[[PortfolioSnapshot], object]] = []

    @property
    def feeders(self) -> list[str]:
        return [f for shard in self.shards for f in shard.feeders]

    def latest(self) -> PortfolioSnapshot | None:
        return self._latest

    def subscribe(self, listener: Callable[[PortfolioSnapshot], object]) -> None:
        """Calls ``listener`` with each cycle's snapshot (the setpoints' way out)."""
        self._listeners.append(listener)

    def submit(self, event: DemandResponseEvent) -> Outcome:
        """A DR event for the portfolio, split across the feeders at every cycle."""
        self.events, outcome = self.events.accept(event)
        return outcome

    def cancel(self, event_id: str) -> Outcome:
        self.events, outcome = self.events.cancel(event_id)
        return outcome

    def split(
        self, envelopes: Mapping[str, PublishedEnvelope | None], now: datetime
    ) -> tuple[dict[str, Split], dict[str, list[Input]]]:
        """Each running or coming export event split across the feeders, and each
        feeder's orders (its shares, and cancellations of shares no longer wanted)."""
        splits: dict[str, Split] = {}
        orders: dict[str, list[Input]] = {feeder: [] for feeder in self.feeders}
        wanted: set[tuple[str, str]] = set()
        for event in self.events.events.values():
            if event.end <= now:
                continue
            splits[event.id] = split = self._split_one(event, envelopes, now)
            for feeder, share in split.shares_w.items():
                # An export_w or shed_w of 0 W asks nothing (an export_w of 0 W would
                # even stop its charging); an import limit of 0 W is a limit.
                if share >= MIN_SHARE_W or event.kind == "import_limit_w":
                    orders[feeder].append(share_event(event, feeder, share, self._cycle))
                    wanted.add((event.id, feeder))
        for event_id, feeder in sorted(self._sent - wanted):
            orders.setdefault(feeder, []).append(CancelEvent(share_id(event_id, feeder)))
        self._sent = wanted
        running = {(e, f) for e in splits for f in self.feeders}
        self.learned_w = {k: v for k, v in self.learned_w.items() if k in running}
        return splits, orders

    def _split_one(
        self,
        event: DemandResponseEvent,
        envelopes: Mapping[str, PublishedEnvelope | None],
        now: datetime,
    ) -> Split:
        """``event``'s split from the envelopes (what each feeder can offer or must
        import) and, for limits and sheds, what each feeder's last plan imports."""
        start = max(event.start, now)
        if event.kind == "export_w":
            offers = {
                feeder: min(
                    0.0 if env is None else env.export_offer_w(start, event.end),
                    self.learned_w.get((event.id, feeder), float("inf")),
                )
                for feeder, env in envelopes.items()
            }
            return split_export(event.value_w, offers, self.mv_export_cap_w)
        needs = {
            f: 0.0 if env is None else env.import_need_w(start, event.end)
            for f, env in envelopes.items()
        }
        last = self._latest.feeders if self._latest else {}
        planned = {
            f: 0.0
            if (s := last.get(f)) is None or s.planned is None
            else s.planned.import_need_w(start, event.end)
            for f in envelopes
        }
        if event.kind == "import_limit_w":
            return split_import_limit(event.value_w, needs, planned)
        rooms = {f: planned[f] - needs[f] for f in envelopes}
        return split_shed(event.value_w, rooms)

    def learn(self, splits: Mapping[str, Split], planned: Mapping[str, FeederSummary]) -> None:
        """Each feeder that planned less than its share offers what it planned."""
        for event_id, split in splits.items():
            event = self.events.events[event_id]
            if event.kind != "export_w":
                continue
            for feeder, share_w in split.shares_w.items():
                summary = planned.get(feeder)
                if summary is None:
                    continue
                held_w = summary.export_w(max(event.start, self.clock.now()), event.end)
                if share_w - held_w > max(SHORT_W, SHORT_SHARE * share_w):
                    self.learned_w[(event_id, feeder)] = held_w

    async def cycle(self) -> PortfolioSnapshot:
        """Envelopes in, split, every shard plans (in parallel), snapshot out."""
        self._cycle += 1
        started = time.perf_counter()
        now = self.clock.now()
        failed: set[str] = set()
        published, cut = await _within(
            {s.name: s.envelopes() for s in self.shards}, self.deadline_s, failed
        )
        envelopes = {f: e for answer in published.values() for f, e in answer.items()}
        split_started = time.perf_counter()
        sent_before = set(self._sent)
        splits, orders = self.split(envelopes, now)
        coordinator_ms = (time.perf_counter() - split_started) * 1000
        left_s = self.deadline_s - (time.perf_counter() - started)
        planned, late = await _within(
            {
                s.name: s.plan({f: orders.get(f, []) for f in s.feeders})
                for s in self.shards
                if s.name not in cut
            },
            left_s,
            failed,
        )
        missed = {f for s in self.shards if s.name in cut or s.name in late for f in s.feeders}
        # A cut shard never got its orders: its shares count as still out there, so a
        # later cycle cancels what it no longer wants.
        self._sent |= {sent for sent in sent_before if sent[1] in missed}
        fresh = {summary.feeder: summary for answer in planned.values() for summary in answer}
        self.learn(splits, fresh)
        feeders = {**(self._latest.feeders if self._latest else {}), **fresh}
        snapshot = PortfolioSnapshot(
            now,
            self._cycle,
            feeders,
            splits,
            tuple(cut + late),
            (time.perf_counter() - started) * 1000,
            coordinator_ms,
            frozenset(fresh),
        )
        if snapshot.cut:
            logger.warning("cycle %d: shards cut at the deadline: %s", self._cycle, snapshot.cut)
        self._latest = snapshot
        for listener in self._listeners:
            try:
                listener(snapshot)
            except Exception:
                logger.exception("portfolio snapshot listener failed")
        await self._revived(failed)
        return snapshot

    async def _revived(self, failed: set[str]) -> None:
        """Each failed shard replaced by ``revive``'s, for the next cycle (its shares
        are sent again then, as every cycle sends them: none lost, none doubled)."""
        if self.revive is None:
            return
        for index, shard in enumerate(self.shards):
            if shard.name not in failed:
                continue
            try:
                # Within the deadline: a cluster with no CPU for it must not stop the cycles.
                self.shards[index] = await asyncio.wait_for(self.revive(shard), self.deadline_s)
            except Exception:
                logger.exception("shard %s not restarted (tried again next cycle)", shard.name)
            else:
                logger.warning("shard %s restarted, its feeders rebuilt", shard.name)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """A cycle every ``interval_s`` (and at once after a DR change) until ``stop``."""
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.cycle()
            except Exception:
                logger.exception("portfolio cycle failed")
            await woken(self.wake, stop, interval_s)
