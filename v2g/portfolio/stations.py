"""A portfolio's OCPP stations: their session events go to the shard of their EVSE's
feeder, and each cycle's setpoints go back to them through the site's ``OcppLink``.

The CSMS, the session store and the station records are the site's own
(``v2g.service``): only who plans for a session differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from v2g.aggregator import SessionLink
from v2g.aggregator.state import Input
from v2g.demand_response import Outcome
from v2g.portfolio.coordinator import PortfolioSnapshot
from v2g.session import SessionEvent, SessionStarted

logger = logging.getLogger(__name__)


class SendingShard(Protocol):
    """A shard that takes inputs without the caller waiting (``RayShard``)."""

    name: str
    feeders: tuple[str, ...]

    def send(self, feeder: str, item: Input) -> asyncio.Future[Outcome]: ...


class FeederIntake:
    """Session events to the shard owning their EVSE's feeder (a ``SessionIntake``).

    While a shard restarts (``hold`` to ``release``) its events wait here: the new
    actor is rebuilt from the store first, then given what came meanwhile, in order.
    Sent to the dead actor they would be lost to planning; sent to the new one before
    its rebuild, the store's older state would overwrite them.

    A plug-in sets ``wake`` (the portfolio's): the vehicle is planned in the next
    cycle, started at once, rather than at the next tick (as a site's aggregator)."""

    def __init__(
        self,
        feeder_of: Mapping[str, str],
        shards: Sequence[SendingShard],
        wake: asyncio.Event | None = None,
    ) -> None:
        self._feeder_of = dict(feeder_of)
        self._shards = shards
        self._wake = wake
        self._held: dict[str, list[tuple[str, SessionEvent]]] = {}

    def shard_of(self, feeder: str) -> SendingShard | None:
        return next((s for s in self._shards if feeder in s.feeders), None)

    def submit(self, item: SessionEvent) -> Outcome:
        feeder = self._feeder_of.get(item.evse_id)
        shard = None if feeder is None else self.shard_of(feeder)
        if feeder is None or shard is None:
            return Outcome(
                False, f"session {item.session_id}: EVSE {item.evse_id} is on no feeder"
            )
        if self._wake is not None and isinstance(item, SessionStarted):
            self._wake.set()
        if shard.name in self._held:
            self._held[shard.name].append((feeder, item))
            return Outcome(True, f"held for {shard.name} while it restarts (feeder {feeder})")
        shard.send(feeder, item).add_done_callback(_refused)
        return Outcome(True, f"sent to {shard.name} for feeder {feeder}")

    def hold(self, name: str) -> None:
        """Keep shard ``name``'s events until ``release`` (kept across a failed try)."""
        self._held.setdefault(name, [])

    def release(self, shard: SendingShard) -> int:
        """What was held for ``shard.name``, sent to ``shard`` in arrival order; from
        now on its events go straight to it. Returns how many were held."""
        held = self._held.pop(shard.name, [])
        for feeder, item in held:
            shard.send(feeder, item).add_done_callback(_refused)
        return len(held)


def _refused(answer: asyncio.Future[Outcome]) -> None:
    """The shard's refusal, or its failure, logged (the event is in the store)."""
    if answer.cancelled():
        return
    error = answer.exception()
    if error is not None:
        logger.warning("session event not planned: shard failed: %s", error)
    elif not answer.result().accepted:
        logger.warning("session event refused: %s", answer.result().reason)


def post_setpoints(link: SessionLink, snapshot: PortfolioSnapshot) -> None:
    """The setpoints of each feeder planned in ``snapshot``, to their stations."""
    for feeder in sorted(snapshot.fresh):
        for evse_id, setpoint in snapshot.feeders[feeder].setpoints.items():
            link.post(evse_id, setpoint)
