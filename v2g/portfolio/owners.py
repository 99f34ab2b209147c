"""Who holds what, written to the store (``v2g.store.owners``): each feeder's shard at
start and at a restart, each station's connection when it connects and goes."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from v2g.ocpp.records import OcppRecord, StationConnected, StationDisconnected
from v2g.service.ocpp_link import StationRecordWriter
from v2g.store.owners import FEEDER, STATION, Owner, SqlOwners
from v2g.store.station_records import SqlStationRecords

logger = logging.getLogger(__name__)


class PlacedShard(Protocol):
    name: str
    feeders: tuple[str, ...]

    def placement(self) -> Awaitable[tuple[str, int]]: ...


async def record_shard(owners: SqlOwners, shard: PlacedShard, now: datetime) -> None:
    """``shard`` holds its feeders from ``now``, on its node, in its worker."""
    node, pid = await shard.placement()
    for feeder in shard.feeders:
        await owners.hold(FEEDER, feeder, Owner(shard.name, node, pid, now))


def this_instance(now: datetime) -> Owner:
    """This service process, as the holder of station connections."""
    node, pid = socket.gethostname(), os.getpid()
    return Owner(f"serve@{node}:{pid}", node, pid, now)


class HeldConnections(StationRecordWriter):
    """The site's station records, and which service instance holds each station's
    connection (written in the order the stations came and went, never awaited)."""

    def __init__(self, store: SqlStationRecords, owners: SqlOwners, instance: Owner) -> None:
        super().__init__(store)
        self.owners = owners
        self.instance = instance
        self._order = asyncio.Lock()  # FIFO: a quick reconnect is written after its drop
        self._writing: set[asyncio.Task[None]] = set()

    async def start(self, now: datetime) -> None:
        await self.owners.forget(STATION)
        await super().start(now)

    def __call__(self, record: OcppRecord) -> None:
        super().__call__(record)
        if isinstance(record, StationConnected | StationDisconnected):
            task = asyncio.get_running_loop().create_task(self._owned(record))
            self._writing.add(task)
            task.add_done_callback(self._writing.discard)

    async def _owned(self, record: StationConnected | StationDisconnected) -> None:
        async with self._order:
            try:
                if isinstance(record, StationConnected):
                    held = replace(self.instance, since=record.at)
                    await self.owners.hold(STATION, record.station_id, held)
                else:
                    await self.owners.release(STATION, record.station_id, self.instance.owner)
            except Exception as error:
                logger.error("station %s: holder not stored: %s", record.station_id, error)
