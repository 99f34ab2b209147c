"""Store tests run on both back ends: a SQLite file and a real PostgreSQL server.

PostgreSQL comes from ``V2G_TEST_POSTGRES_URL`` (``.ci/run`` starts one on loopback);
without it those tests skip, unless ``V2G_REQUIRE_POSTGRES=1`` makes that an error.
Each test gets a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.store.postgres import fresh_database
from v2g.store import sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "v2g.db")
        return
    async with fresh_database() as url:
        if url is None:
            pytest.skip("no PostgreSQL server (set V2G_TEST_POSTGRES_URL)")
        yield url
