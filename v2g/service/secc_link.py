"""The SECC in the aggregator's process: one ``v2g serve`` runs the chargers too.

Session events from the SECC go straight into the aggregator (``submit`` only queues
them, so the charge loop never waits) and into the store; the aggregator's setpoints
go straight into the SECC's per-EVSE mailboxes (``MailboxLink``). This is the
in-process SessionLink of docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from v2g.aggregator import Aggregator
from v2g.clock import Clock
from v2g.config import ConfigError
from v2g.fleet import Site
from v2g.log_setup import configure_logging
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import SessionEvent
from v2g.store import SqlSessionStore

if TYPE_CHECKING:
    from v2g.secc.station import Station

logger = logging.getLogger(__name__)


def in_process_station(path: Path, site: Site, clock: Clock) -> Station:
    """The SECC of charger file ``path``; every EVSE in it must be a site charger
    (raises ConfigError naming those that are not)."""
    # Imported here: importing iso15118 reconfigures the root logger, so only a site
    # that runs an SECC pays for it (and gets its logging set back, below).
    from v2g.secc.codec import make_codec, warm_up
    from v2g.secc.config import load_secc_config
    from v2g.secc.station import Station

    try:
        config = load_secc_config(path)
    except ConfigError as error:
        raise ConfigError([f"secc.config {path}: {p}" for p in error.problems]) from error
    unknown = [e.evse_id for e in config.evses if e.evse_id not in site.chargers]
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


class SessionFeed:
    """Hands each SECC session event to the aggregator and to the store."""

    def __init__(self, aggregator: Aggregator, store: SqlSessionStore) -> None:
        self._aggregator = aggregator
        self._store = store
        self._writes: set[asyncio.Task[None]] = set()

    def __call__(self, event: SessionEvent) -> None:
        outcome = self._aggregator.submit(event)
        if not outcome.accepted:
            logger.warning("session event refused: %s", outcome.reason)
            return
        # The SECC calls this from its charge loop: write in the background.
        task = asyncio.get_running_loop().create_task(self._store.record(event))
        self._writes.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("session event not stored: %s", task.exception())

    async def flush(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


def mailboxes_of(station: Station | None, site: Site) -> dict[str, SetpointMailbox]:
    """The SECC's mailboxes for its EVSEs, and fresh ones for the site's other
    chargers (an SECC elsewhere would read those through another link)."""
    own = dict(station.evses) if station else {}
    return {
        evse_id: own[evse_id].mailbox if evse_id in own else SetpointMailbox()
        for evse_id in site.chargers
    }
