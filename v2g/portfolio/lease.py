"""One coordinator per portfolio, whichever instance it is.

Several ``v2g serve --config portfolio.toml`` may run against one store: the first to
claim the coordinator's lease (``v2g.store.owners``) runs the portfolio (Ray, the
shards, the cycles, the CSMS and the API); the others wait, not listening, and the
first of them to find the lease older than ``lease_s`` takes over, rebuilding every
shard from the store as any start does. The holder renews the lease at a third of
``lease_s``; one that cannot renew for ``lease_s`` (its store gone, or another took
over) stops coordinating at once, so two never plan the same portfolio for longer
than the store takes to answer. The lease's age is read on the standby's clock from
the holder's: the machines' clocks must agree (NTP) to well within ``lease_s``, and
``lease_s`` must exceed the few seconds Ray takes to start (it blocks the renewals).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from v2g.clock import Clock
from v2g.store.owners import COORDINATOR, Owner, SqlOwners

logger = logging.getLogger(__name__)

PORTFOLIO = "portfolio"


class CoordinatorLease:
    """This instance's claim to coordinate the portfolio in ``owners``."""

    def __init__(self, owners: SqlOwners, instance: Owner, lease_s: float, clock: Clock) -> None:
        self.owners = owners
        self.instance = instance
        self.lease_s = lease_s
        self.clock = clock
        self._renewed = 0.0  # time.monotonic() of the last renewal

    async def _claim(self) -> bool:
        now = self.clock.now()
        me = replace(self.instance, since=now)
        stale_before = now - timedelta(seconds=self.lease_s)
        held = await self.owners.claim(COORDINATOR, PORTFOLIO, me, stale_before)
        if held:
            self._renewed = time.monotonic()
        return held

    async def acquire(self) -> None:
        """Returns once this instance holds the lease (at once when no live instance
        does); meanwhile it says once who does."""
        said = False
        while not await self._try():
            if not said:
                logger.warning(
                    "standby: %s coordinates this portfolio; taking over if it stops "
                    "renewing for %.0f s",
                    await self._holder(),
                    self.lease_s,
                )
                said = True
            await asyncio.sleep(self.lease_s / 3)
        logger.info("coordinating the portfolio as %s", self.instance.owner)

    async def _holder(self) -> str:
        try:
            holder = (await self.owners.held(COORDINATOR)).get(PORTFOLIO)
        except Exception:  # the store is away: _try said so
            holder = None
        return "another instance" if holder is None else holder.owner

    async def _try(self) -> bool:
        try:
            return await self._claim()
        except Exception as error:  # the store is away: try again
            logger.error("coordinator lease: store: %s", error)
            return False

    async def keep(self, lost: Callable[[], None]) -> None:
        """Renews the lease until cancelled; calls ``lost`` (once, then returns) when
        another instance took it, or when it could not be renewed for ``lease_s``."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                held = await self._claim()
            except Exception as error:
                logger.error("coordinator lease not renewed: store: %s", error)
                held = time.monotonic() - self._renewed < self.lease_s
            if not held:
                logger.critical("coordinator lease lost: this instance stops coordinating")
                lost()
                return

    async def release(self) -> None:
        """The lease given up (a standby takes over at once, not ``lease_s`` later)."""
        try:
            await self.owners.release(COORDINATOR, PORTFOLIO, self.instance.owner)
        except Exception as error:
            logger.error("coordinator lease not released: store: %s", error)
