"""Fixtures of the portfolio tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.store.postgres import fresh_database
from v2g.store import sqlite_url


@pytest.fixture
async def store_url(tmp_path: Path) -> AsyncIterator[str]:
    """PostgreSQL where a server is given (as in CI), else SQLite."""
    async with fresh_database() as url:
        yield url or sqlite_url(tmp_path / "data" / "v2g.db")
