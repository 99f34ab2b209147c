"""The OCPP SessionLink of ``v2g serve``: the CSMS built from the site's ``[ocpp]``
table, its station credentials read from the store, and what it learns of its
stations written to the store in order (``StationRecordWriter``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.clock import Clock
from v2g.ocpp.authorize import AllowList
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.records import OcppRecord
from v2g.service.driver_authorizer import DriverAuthorizer
from v2g.session import SessionEvent
from v2g.store import SqlStationStore
from v2g.store.drivers import SqlDriverStore
from v2g.store.station_records import SqlStationRecords
from v2g.tasks import stop_task

logger = logging.getLogger(__name__)

#: Records written per database transaction at most (a burst from 1,000 stations is
#: written in a few transactions, not one each).
BATCH = 500


class StationRecordWriter:
    """Takes station records without waiting and writes them in their order, in
    batches, in the background: the CSMS's answers never wait for the store."""

    def __init__(self, store: SqlStationRecords) -> None:
        self.store = store
        self._queue: asyncio.Queue[OcppRecord] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.failures = 0

    async def start(self, now: datetime) -> None:
        """No station is connected at start-up: every one is marked offline."""
        offline = await self.store.mark_all_offline(now)
        if offline:
            logger.info("%d stations marked offline until they reconnect", offline)
        self._worker = asyncio.get_running_loop().create_task(self._write(), name="ocpp records")

    def __call__(self, record: OcppRecord) -> None:
        self._queue.put_nowait(record)

    async def _write(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.store.record(batch)
            except (SQLAlchemyError, OSError):
                # One bad record must not take the batch with it: each on its own.
                await self._one_by_one(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _one_by_one(self, batch: list[OcppRecord]) -> None:
        for record in batch:
            try:
                await self.store.record([record])
            except (SQLAlchemyError, OSError) as error:
                self.failures += 1
                logger.error("station record not stored: %s", error)

    async def flush(self) -> None:
        """Waits until every record taken so far is written (or failed)."""
        if self._worker is not None:
            await self._queue.join()

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout=5)
        if self._worker is not None:
            await stop_task(self._worker)


def ocpp_csms(
    config: OcppSiteConfig,
    engine: AsyncEngine,
    on_event: Callable[[SessionEvent], object],
    clock: Clock,
    records: StationRecordWriter | None = None,
) -> Csms:
    """The CSMS for ``config``; its session events go to ``on_event``, its station
    records to ``records`` (and what was recorded is read back from the store).
    Authorize is answered from the site's drivers, then its ``id_tokens``."""
    authorizer = DriverAuthorizer(SqlDriverStore(engine), AllowList(config.id_tokens or ()), clock)
    return Csms(
        config,
        SqlStationStore(engine),
        on_event,
        clock,
        authorizer=authorizer,
        records=records,
        history=None if records is None else records.store,
    )


@contextlib.asynccontextmanager
async def csms_serving(
    csms: Csms, records: StationRecordWriter, clock: Clock
) -> AsyncIterator[None]:
    """The CSMS listening where its ``[ocpp]`` says, every station marked offline
    until it connects, and the stations' records written out when it stops."""
    await records.start(clock.now())
    try:
        async with serving(csms, csms.config.host, csms.config.port):
            yield
    finally:
        await records.close()
