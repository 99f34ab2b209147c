"""Store tests run on both back ends: a SQLite file and a real PostgreSQL server.

PostgreSQL comes from ``V2G_TEST_POSTGRES_URL`` (``.ci/run`` starts one on loopback);
without it those tests skip, unless ``V2G_REQUIRE_POSTGRES=1`` makes that an error.
Each test gets a database of its own.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from v2g.store import sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "v2g.db")
        return
    base = os.environ.get("V2G_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("V2G_REQUIRE_POSTGRES") == "1":
            pytest.fail("V2G_REQUIRE_POSTGRES=1 but V2G_TEST_POSTGRES_URL is not set")
        pytest.skip("no PostgreSQL server (set V2G_TEST_POSTGRES_URL)")
    name = f"v2g_test_{uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base.rsplit('/', 1)[0]}/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
