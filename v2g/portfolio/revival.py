"""A shard restarted after its worker died, or a service started again: the feeders'
fleets rebuilt from the sessions the store holds open at their chargers, so their
vehicles are planned again without any station sending anything. The portfolio's DR
events need no rebuilding: the coordinator sends every feeder its shares each cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, Protocol, Self, TypeVar

from v2g.aggregator.state import Input
from v2g.demand_response import Outcome
from v2g.portfolio.config import FeederConfig, feeders_by_evse
from v2g.portfolio.coordinator import Shard
from v2g.session import SessionEvent


class RestartableShard(Shard, Protocol):
    """A shard that can start again from its feeders' configuration (``RayShard``)."""

    configs: tuple[FeederConfig, ...]

    def restarted(self) -> Self: ...

    def kill(self) -> None: ...

    def submit_all(self, items: Mapping[str, Sequence[Input]]) -> Awaitable[list[Outcome]]: ...

    def send(self, feeder: str, item: Input) -> asyncio.Future[Outcome]: ...


class OpenSessions(Protocol):
    """The store's open sessions (``SqlSessionStore``)."""

    def open_sessions(self, evse_ids: Sequence[str]) -> Awaitable[list[SessionEvent]]: ...


Restartable = TypeVar("Restartable", bound=RestartableShard)


class Holding(Protocol):
    """The session intake's side of a restart (``FeederIntake``)."""

    def hold(self, name: str) -> None: ...

    def release(self, shard: RestartableShard) -> int: ...


class Revival(Generic[Restartable]):
    """Restarts shards in ``shards`` (the list the session intake routes by, updated
    in place) and rebuilds their feeders from ``sessions``; ``written`` first waits
    until the events on their way to the store are in it. ``intake`` holds the
    events that come during the restart and gives them to the new shard after its
    rebuild."""

    def __init__(
        self,
        shards: list[Restartable],
        sessions: OpenSessions,
        written: Callable[[], Awaitable[None]] | None = None,
        intake: Holding | None = None,
    ) -> None:
        self.shards = shards
        self.sessions = sessions
        self.written = written
        self.intake = intake

    async def __call__(self, failed: Shard) -> Restartable:
        if self.intake is not None:
            self.intake.hold(failed.name)
        if self.written is not None:
            await self.written()
        shard = next(s for s in self.shards if s.name == failed.name)
        fresh = shard.restarted()
        try:
            items = await self._open(fresh)
            self.shards[:] = [fresh if s.name == shard.name else s for s in self.shards]
            await self._rebuilt(fresh, items)
        except BaseException:
            fresh.kill()  # not left waiting for a CPU; the next cycle tries again
            raise
        if self.intake is not None:
            # What came during the restart, after the rebuild: an event the store read
            # also held is applied again in order (a replayed start keeps its session).
            self.intake.release(fresh)
        return fresh

    async def rebuild(self, shard: Restartable) -> None:
        """``shard`` given the sessions the store holds open at its feeders' chargers (a
        service started again: its stations' vehicles are planned before any of them
        sends anything). Only before the stations' events flow to it."""
        await self._rebuilt(shard, await self._open(shard))

    async def _open(self, shard: Restartable) -> dict[str, list[Input]]:
        feeder_of = feeders_by_evse(shard.configs)
        events = await self.sessions.open_sessions(sorted(feeder_of))
        items: dict[str, list[Input]] = {name: [] for name in shard.feeders}
        for event in events:
            items[feeder_of[event.evse_id]].append(event)
        return items

    @staticmethod
    async def _rebuilt(shard: Restartable, items: Mapping[str, Sequence[Input]]) -> None:
        await shard.submit_all(items)
        # Planned once now, so the next cycle has its envelope to split the DR by (a
        # shard that never planned offers nothing, and would get no share).
        await shard.plan({})
