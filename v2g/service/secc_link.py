"""The SECC in the aggregator's process: one ``v2g serve`` runs the chargers too.

Session events from the SECC go straight into the aggregator (``submit`` only queues
them, so the charge loop never waits) and into the store; the aggregator's setpoints
go straight into the SECC's per-EVSE mailboxes (``MailboxLink``). This is the
in-process SessionLink of docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from v2g.clock import Clock
from v2g.config import ConfigError
from v2g.demand_response import Outcome
from v2g.fleet import Site
from v2g.log_setup import configure_logging
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import SessionEvent
from v2g.store import SqlSessionStore
from v2g.tasks import stop_task

if TYPE_CHECKING:
    from v2g.secc.station import Station

logger = logging.getLogger(__name__)


def in_process_station(path: Path, chargers: Collection[str], clock: Clock) -> Station:
    """The SECC of charger file ``path``; every EVSE in it must be one of the
    ``chargers`` (EVSE ids; raises ConfigError naming those that are not)."""
    # Imported here: importing iso15118 reconfigures the root logger, so only a site
    # that runs an SECC pays for it (and gets its logging set back, below).
    from v2g.secc.codec import make_codec, warm_up
    from v2g.secc.config import load_secc_config
    from v2g.secc.station import Station

    try:
        config = load_secc_config(path)
    except ConfigError as error:
        raise ConfigError([f"secc.config {path}: {p}" for p in error.problems]) from error
    unknown = [e.evse_id for e in config.evses if e.evse_id not in chargers]
    if unknown:
        raise ConfigError(
            [
                f"secc.config: EVSE {evse_id} is not a [[charger]] of the site"
                for evse_id in unknown
            ]
        )
    level = logging.getLevelName(logging.getLogger().level)
    codec = make_codec(config.codec)
    warm_up(codec)
    station = Station(config, codec, clock)
    # Importing iso15118 points the root logger at stdout: back to stderr.
    configure_logging(level)
    return station


class SessionIntake(Protocol):
    """Who plans for a session: a site's Aggregator, or a portfolio's feeders (each
    event to the shard of its EVSE's feeder). ``submit`` never waits."""

    def submit(self, item: SessionEvent) -> Outcome: ...


class SessionFeed:
    """Hands each SECC session event to the aggregator and to the store.

    The store gets them in the order they came, in batches of up to ``BATCH`` per
    database transaction, from one background task: a meter value is never written
    before the session it belongs to (it would break the foreign key and be lost),
    and 1,000 OCPP stations cost a few commits per burst, not one each."""

    BATCH = 500

    def __init__(self, aggregator: SessionIntake, store: SqlSessionStore) -> None:
        self._aggregator = aggregator
        self._store = store
        self._queue: asyncio.Queue[SessionEvent] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def __call__(self, event: SessionEvent) -> None:
        outcome = self._aggregator.submit(event)
        if not outcome.accepted:
            logger.warning("session event refused: %s", outcome.reason)
            return
        # The SECC calls this from its charge loop: write in the background.
        self._queue.put_nowait(event)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(
                self._write(), name="session store"
            )

    async def _write(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store.record_all(batch)
            except Exception:
                # One bad event must not take the batch with it: each on its own.
                await self._one_by_one(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _one_by_one(self, batch: list[SessionEvent]) -> None:
        for event in batch:
            try:
                await self._store.record(event)
            except Exception as error:
                logger.error("session event not stored: %s", error)

    async def flush(self) -> None:
        if self._worker is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Stops the writer (after ``flush``)."""
        if self._worker is not None:
            await stop_task(self._worker)


def mailboxes_of(station: Station | None, site: Site) -> dict[str, SetpointMailbox]:
    """The SECC's mailboxes for its EVSEs, and fresh ones for the site's other
    chargers (an SECC elsewhere would read those through another link)."""
    own = dict(station.evses) if station else {}
    return {
        evse_id: own[evse_id].mailbox if evse_id in own else SetpointMailbox()
        for evse_id in site.chargers
    }
