"""The portfolio's session intake. Events that come while a shard restarts are
neither lost nor overwritten: held while the store is read, given to the new shard
after its rebuild, in the order they came. (Before: they went to the dead actor, and
the vehicle was not planned again until its station sent something else.) A plug-in
wakes the portfolio's cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from v2g.aggregator.state import Input
from v2g.demand_response import Outcome
from v2g.fleet import Fleet, Site
from v2g.portfolio.config import FeederConfig
from v2g.portfolio.revival import Revival
from v2g.portfolio.stations import FeederIntake
from v2g.session import ChargeNeeds, NeedsReported, SessionEvent, SessionStarted
from v2g.testing.portfolio import generated_feeder

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


@dataclass
class RecordingShard:
    """A shard that keeps what it was given, in order (a fresh one after ``restarted``)."""

    name: str
    configs: tuple[FeederConfig, ...]
    given: list[tuple[str, object]] = field(default_factory=list)
    killed: bool = False

    @property
    def feeders(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.configs)

    def restarted(self) -> RecordingShard:
        self.killed = True
        return RecordingShard(self.name, self.configs)

    def kill(self) -> None:
        self.killed = True

    async def submit_all(self, items: Mapping[str, Sequence[Input]]) -> list[Outcome]:
        self.given.append(("rebuild", {f: list(i) for f, i in items.items()}))
        return [Outcome(True, "ok") for batch in items.values() for _ in batch]

    def send(self, feeder: str, item: Input) -> asyncio.Future[Outcome]:
        self.given.append(("event", item))
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        answer.set_result(Outcome(True, "ok"))
        return answer

    async def plan(self, orders: Mapping[str, Sequence[Input]]) -> list[object]:
        self.given.append(("plan", dict(orders)))
        return []

    async def envelopes(self) -> dict[str, None]:
        return {}


class SlowStore:
    """The store's open sessions, read only when ``go`` is set (the restart's window)."""

    def __init__(self, open_now: list[SessionEvent]) -> None:
        self.open_now = open_now
        self.reading = asyncio.Event()
        self.go = asyncio.Event()

    async def open_sessions(self, evse_ids: Sequence[str]) -> list[SessionEvent]:
        self.reading.set()
        await self.go.wait()
        return [e for e in self.open_now if e.evse_id in evse_ids]


async def test_events_during_a_restart_reach_the_new_shard_after_its_rebuild_in_order() -> None:
    config, plugged = generated_feeder("lv", "cigre-lv", 3, NOW)
    old = RecordingShard("shard-0", (config,))
    shards = [old]
    intake = FeederIntake({c.evse_id: "lv" for c in config.site.chargers}, shards)
    store = SlowStore([e for e in plugged if isinstance(e, SessionStarted)])
    revival = Revival(shards, store, None, intake)

    restarting = asyncio.create_task(revival(old))
    await store.reading.wait()
    evse = config.site.chargers[0].evse_id
    session = next(e for e in plugged if isinstance(e, SessionStarted) and e.evse_id == evse)
    needs = ChargeNeeds(NOW, NOW + timedelta(hours=4), target_energy_wh=20_000.0)
    during = [NeedsReported(evse, session.session_id, NOW, needs)]
    outcomes = [intake.submit(e) for e in during]
    store.go.set()
    fresh = await restarting

    assert all(o.accepted for o in outcomes)
    assert old.given == []  # nothing went to the dead actor
    kinds = [kind for kind, _ in fresh.given]
    assert kinds == ["rebuild", "plan", "event"]
    assert fresh.given[-1] == ("event", during[0])
    assert shards == [fresh]
    later = NeedsReported(evse, session.session_id, NOW + timedelta(minutes=1), needs)
    assert intake.submit(later).reason.startswith("sent to shard-0")
    assert fresh.given[-1] == ("event", later)


async def test_events_stay_held_when_the_restart_fails_and_go_with_the_next_try() -> None:
    config, plugged = generated_feeder("lv", "cigre-lv", 2, NOW)
    old = RecordingShard("shard-0", (config,))
    shards = [old]
    intake = FeederIntake({c.evse_id: "lv" for c in config.site.chargers}, shards)
    store = SlowStore([])
    revival = Revival(shards, store, None, intake)

    first = asyncio.create_task(revival(old))
    await store.reading.wait()
    held = plugged[0]
    assert intake.submit(held).reason.startswith("held for shard-0")
    first.cancel()  # the cycle's deadline ran out
    await asyncio.wait({first})
    store.go.set()
    fresh = await revival(old)

    assert [item for kind, item in fresh.given if kind == "event"] == [held]


def test_a_replayed_session_start_keeps_what_the_session_reported() -> None:
    config, plugged = generated_feeder("lv", "cigre-lv", 1, NOW)
    started = next(e for e in plugged if isinstance(e, SessionStarted))
    needs = ChargeNeeds(NOW, NOW + timedelta(hours=3), target_energy_wh=12_000.0)
    reported = NeedsReported(started.evse_id, started.session_id, NOW, needs)
    site = Site.of(list(config.site.chargers))  # type: ignore[arg-type]
    fleet, errors = Fleet().apply_all([started, reported, started], site)

    assert errors == []
    assert fleet.members[started.evse_id].needs == needs


async def test_a_plug_in_wakes_the_portfolio_and_other_events_do_not() -> None:
    config, plugged = generated_feeder("lv", "cigre-lv", 1, NOW)
    wake = asyncio.Event()
    shard = RecordingShard("shard-0", (config,))
    intake = FeederIntake({c.evse_id: "lv" for c in config.site.chargers}, [shard], wake)
    started = next(e for e in plugged if isinstance(e, SessionStarted))
    needs = ChargeNeeds(NOW, NOW + timedelta(hours=3), target_energy_wh=12_000.0)

    intake.submit(NeedsReported(started.evse_id, started.session_id, NOW, needs))
    assert not wake.is_set()
    intake.submit(started)
    assert wake.is_set()
