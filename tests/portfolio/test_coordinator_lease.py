"""The coordinator lease's keeper: it gives the portfolio up (calls ``lost``) when
another instance took the lease, or when the store has not let it renew for a whole
lease; a short store outage is ridden out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

from v2g.portfolio.lease import CoordinatorLease
from v2g.store.owners import Owner
from v2g.testing import FakeClock

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
LEASE_S = 0.15


class ScriptedOwners:
    """Answers each claim from ``answers``: True, False, or an error to raise."""

    def __init__(self, answers: Iterator[bool | Exception]) -> None:
        self.answers = answers
        self.claims = 0

    async def claim(self, kind: str, name: str, owner: Owner, stale_before: datetime) -> bool:
        self.claims += 1
        answer = next(self.answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def held(self, kind: str) -> dict[str, Owner]:
        return {"portfolio": Owner("serve@other:1", "other", 1, NOW)}


def lease(answers: list[bool | Exception]) -> tuple[CoordinatorLease, ScriptedOwners]:
    owners = ScriptedOwners(iter(answers))
    me = Owner("serve@here:2", "here", 2, NOW)
    return CoordinatorLease(owners, me, LEASE_S, FakeClock(NOW)), owners  # type: ignore[arg-type]


async def kept(found: CoordinatorLease) -> bool:
    """Whether ``keep`` called ``lost`` within 2 s."""
    lost = asyncio.Event()
    keeping = asyncio.create_task(found.keep(lost.set))
    try:
        await asyncio.wait_for(lost.wait(), 2)
    except TimeoutError:
        return False
    finally:
        keeping.cancel()
    return True


async def test_a_standby_waits_until_the_lease_is_free_then_holds_it() -> None:
    found, owners = lease([False, False, True])
    await asyncio.wait_for(found.acquire(), 2)
    assert owners.claims == 3


async def test_the_coordinator_stops_when_another_instance_took_the_lease() -> None:
    found, _ = lease([True, True, False])
    await found.acquire()
    assert await kept(found)


async def test_a_short_store_outage_keeps_the_lease_and_a_long_one_gives_it_up() -> None:
    short, _ = lease([True, OSError("store away"), *[True] * 100])
    await short.acquire()
    assert not await asyncio.wait_for(kept_for(short, 0.6), 2)
    long, _ = lease([True, *[OSError("store away")] * 100])
    await long.acquire()
    assert await kept(long)


async def kept_for(found: CoordinatorLease, seconds: float) -> bool:
    """Whether ``keep`` called ``lost`` within ``seconds``."""
    lost = asyncio.Event()
    keeping = asyncio.create_task(found.keep(lost.set))
    await asyncio.sleep(seconds)
    keeping.cancel()
    return lost.is_set()
