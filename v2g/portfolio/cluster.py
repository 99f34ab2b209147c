"""The portfolio on Ray: feeders assigned to shards, each shard a Ray actor holding a
``FeederShard`` (its feeders' warm grid models and aggregators).

``address = "local"`` starts Ray in this process (``num_cpus`` CPUs, no dashboard,
a small object store); ``ray://host:port`` joins a cluster started with
``ray start --head`` as a Ray Client; ``host:port`` joins from a node of the cluster
itself. Each shard actor asks for one CPU, so Ray spreads the shards over the
machines that have them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ray

from v2g.aggregator.state import Input
from v2g.clock import Clock
from v2g.demand_response import Outcome
from v2g.portfolio.config import ClusterConfig, FeederConfig
from v2g.portfolio.shard import FeederShard, FeederSummary
from v2g.portfolio.split import PublishedEnvelope

#: The actor class: a FeederShard in a Ray worker, one CPU reserved for it.
ShardActor = ray.remote(num_cpus=1)(FeederShard)


#: The folder whose ``sitecustomize`` lets each Ray process load Ray next to pydantic 1
#: (``v2g.portfolio.ray_guard`` says why); Ray's processes find it on ``PYTHONPATH``.
RAY_SITE = Path(__file__).parent / "ray_site"


def _load_ray_without_pydantic() -> None:
    """``ray_site/ray_guard.py``'s guard, in this process (loaded by path: the same
    file serves Ray's processes, before any package is importable)."""
    spec = importlib.util.spec_from_file_location("v2g_ray_guard", RAY_SITE / "ray_guard.py")
    assert spec is not None and spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)
    guard.load_ray_without_pydantic()


def ray_pythonpath(current: str | None) -> str:
    """``PYTHONPATH`` for Ray's processes: ``RAY_SITE`` first, then what was there."""
    parts = [str(RAY_SITE), *(p for p in (current or "").split(os.pathsep) if p)]
    return os.pathsep.join(dict.fromkeys(parts))


def start_ray(cluster: ClusterConfig, temp_dir: Path | None = None) -> None:
    """Ray started (local) or joined, once per process; quiet and loopback-only."""
    if ray.is_initialized():
        return
    _load_ray_without_pydantic()
    # Ray's processes inherit this process's environment (see RAY_SITE).
    os.environ["PYTHONPATH"] = ray_pythonpath(os.environ.get("PYTHONPATH"))
    if cluster.local:
        options: dict[str, Any] = {
            "num_cpus": cluster.num_cpus,
            "include_dashboard": False,
            "log_to_driver": False,
            "object_store_memory": cluster.object_store_mb * 1024 * 1024,
            "configure_logging": False,
        }
        if temp_dir is not None:
            options["_temp_dir"] = str(temp_dir)
        ray.init(**options)
    else:
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)


def stop_ray() -> None:
    """Leave the cluster (and stop it, when this process started it)."""
    if ray.is_initialized():
        ray.shutdown()


def cluster_cpus() -> int:
    """The CPUs the cluster has for shard actors."""
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))


def assign(feeders: Sequence[FeederConfig], shards: int) -> list[tuple[FeederConfig, ...]]:
    """Feeders dealt round-robin over at most ``shards`` shards (none left empty)."""
    count = max(1, min(shards, len(feeders)))
    return [tuple(feeders[i::count]) for i in range(count)]


class RayShard:
    """A shard actor as the coordinator sees it (``v2g.portfolio.coordinator.Shard``)."""

    def __init__(self, name: str, feeders: Sequence[FeederConfig], clock: Clock | None) -> None:
        self.name = name
        self.feeders = tuple(f.name for f in feeders)
        self.configs = tuple(feeders)
        self._clock = clock
        # Ray's stubs type an actor's methods as plain callables: the handle is Any.
        self.actor: Any = ShardActor.remote(list(feeders), clock)

    def restarted(self) -> RayShard:
        """A new actor for the same feeders (fresh: no fleet, no DR book), this one
        killed if it still runs."""
        with contextlib.suppress(Exception):  # a dead actor may not be killed twice
            ray.kill(self.actor)
        return RayShard(self.name, self.configs, self._clock)

    async def envelopes(self) -> dict[str, PublishedEnvelope | None]:
        answer: dict[str, PublishedEnvelope | None] = await self.actor.envelopes.remote()
        return answer

    async def plan(self, orders: Mapping[str, Sequence[Input]]) -> list[FeederSummary]:
        answer: list[FeederSummary] = await self.actor.plan.remote(dict(orders))
        return answer

    async def submit(self, feeder: str, item: Input) -> Outcome:
        answer: Outcome = await self.actor.submit.remote(feeder, item)
        return answer

    def send(self, feeder: str, item: Input) -> asyncio.Future[Outcome]:
        """``item`` on its way to ``feeder`` at once, in the order sent; the shard's
        answer comes later (a session event from a station never waits for Ray)."""
        answer: asyncio.Future[Outcome] = asyncio.wrap_future(
            self.actor.submit.remote(feeder, item).future()
        )
        return answer

    async def submit_all(self, items: Mapping[str, Sequence[Input]]) -> list[Outcome]:
        """Many inputs in one call (a fleet plugging in at start-up)."""
        answer: list[Outcome] = await self.actor.submit_all.remote(dict(items))
        return answer

    async def dr_event_ids(self, feeder: str) -> list[str]:
        answer: list[str] = await self.actor.dr_event_ids.remote(feeder)
        return answer

    async def placement(self) -> tuple[str, int]:
        answer: tuple[str, int] = await self.actor.placement.remote()
        return answer

    async def pid(self) -> int:
        answer: int = await self.actor.pid.remote()
        return answer

    async def peak_rss_mb(self) -> float:
        answer: float = await self.actor.peak_rss_mb.remote()
        return answer

    def kill(self) -> None:
        ray.kill(self.actor)


def ray_shards(
    feeders: Sequence[FeederConfig], shards: int, clock: Clock | None = None
) -> list[RayShard]:
    """One actor per shard, feeders dealt over them (Ray must be started)."""
    return [
        RayShard(f"shard-{i}", group, clock) for i, group in enumerate(assign(feeders, shards))
    ]
