"""A PostgreSQL database of its own for one test, on the server of
``V2G_TEST_POSTGRES_URL`` (``.ci/run`` starts one on loopback)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str | None]:
    """A new database's URL, dropped afterwards; None without a server (an error
    instead when ``V2G_REQUIRE_POSTGRES=1``)."""
    base = os.environ.get("V2G_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("V2G_REQUIRE_POSTGRES") == "1":
            pytest.fail("V2G_REQUIRE_POSTGRES=1 but V2G_TEST_POSTGRES_URL is not set")
        yield None
        return
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
