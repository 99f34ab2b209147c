"""The portfolio's coordinator lease in the store, on both back ends: one instance
holds it; another gets it only once it is stale or released; of two claiming at once,
exactly one wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from v2g.store import open_store
from v2g.store.owners import COORDINATOR, Owner, SqlOwners

T0 = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)


def at(owner: str, when: datetime) -> Owner:
    return Owner(owner, "node", 1, when)


async def test_the_lease_goes_to_another_instance_only_once_stale_or_released(store_url):
    engine = await open_store(store_url)
    try:
        owners = SqlOwners(engine)

        async def claim(owner: str, when: datetime) -> bool:
            return await owners.claim(COORDINATOR, "portfolio", at(owner, when), when - LEASE)

        assert await claim("serve@a:1", T0)
        assert not await claim("serve@b:2", T0 + timedelta(seconds=5))  # fresh
        assert await claim("serve@a:1", T0 + timedelta(seconds=10))  # renewed
        assert not await claim("serve@b:2", T0 + timedelta(seconds=20))  # 10 s old
        assert await claim("serve@b:2", T0 + timedelta(seconds=26))  # 16 s old: taken
        assert not await claim("serve@a:1", T0 + timedelta(seconds=27))  # a lost it
        held = (await owners.held(COORDINATOR))["portfolio"]
        await owners.release(COORDINATOR, "portfolio", "serve@b:2")
        assert await claim("serve@a:1", T0 + timedelta(seconds=28))  # released: at once
    finally:
        await engine.dispose()
    assert held.owner == "serve@b:2" and held.since == T0 + timedelta(seconds=26)


async def test_of_two_instances_claiming_at_once_exactly_one_wins(store_url):
    engine = await open_store(store_url)
    try:
        owners = SqlOwners(engine)
        for round_ in range(5):
            when = T0 + timedelta(minutes=round_)  # the last holder stale each round
            wins = await asyncio.gather(
                *(
                    owners.claim(COORDINATOR, "portfolio", at(f"serve@{i}", when), when)
                    for i in range(4)
                )
            )
            assert sum(wins) == 1, wins
    finally:
        await engine.dispose()
