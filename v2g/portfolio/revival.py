"""A shard restarted after its worker died: a new actor for the same feeders, their
fleets rebuilt from the sessions the store holds open at their chargers, so their
vehicles are planned again without any station sending anything. The portfolio's DR
events need no rebuilding: the coordinator sends every feeder its shares each cycle."""

from __future__ import annotations

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


class OpenSessions(Protocol):
    """The store's open sessions (``SqlSessionStore``)."""

    def open_sessions(self, evse_ids: Sequence[str]) -> Awaitable[list[SessionEvent]]: ...


Restartable = TypeVar("Restartable", bound=RestartableShard)


class Revival(Generic[Restartable]):
    """Restarts shards in ``shards`` (the list the session intake routes by, updated
    in place) and rebuilds their feeders from ``sessions``; ``written`` first waits
    until the events on their way to the store are in it."""

    def __init__(
        self,
        shards: list[Restartable],
        sessions: OpenSessions,
        written: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.shards = shards
        self.sessions = sessions
        self.written = written

    async def __call__(self, failed: Shard) -> Restartable:
        if self.written is not None:
            await self.written()
        shard = next(s for s in self.shards if s.name == failed.name)
        fresh = shard.restarted()
        try:
            feeder_of = feeders_by_evse(fresh.configs)
            events = await self.sessions.open_sessions(sorted(feeder_of))
            items: dict[str, list[Input]] = {name: [] for name in fresh.feeders}
            for event in events:
                items[feeder_of[event.evse_id]].append(event)
            # The intake sends to the new actor from here; the rebuild is sent first, as
            # nothing awaits between the two.
            self.shards[:] = [fresh if s.name == shard.name else s for s in self.shards]
            await fresh.submit_all(items)
            # Planned once now, so the next cycle has its envelope to split the DR by
            # (a shard that never planned offers nothing, and would get no share).
            await fresh.plan({})
        except BaseException:
            fresh.kill()  # not left waiting for a CPU; the next cycle tries again
            raise
        return fresh
