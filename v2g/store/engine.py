"""Opening the store: an async engine for a URL, SQLite in WAL mode by default."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from v2g.store.migrations import migrate
from v2g.store.schema import metadata

logger = logging.getLogger(__name__)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the API) run beside the one writer (the aggregator); a busy
    # timeout makes concurrent writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class StoreUnavailable(Exception):
    """The store cannot be opened or written (read-only, missing, refused): one line
    that names the store (never its password) and the database's own reason."""


def unavailable(engine: AsyncEngine, error: Exception) -> StoreUnavailable:
    """``error`` from ``engine``'s database as one line."""
    reason = getattr(error, "orig", None) or error
    where = engine.url.render_as_string(hide_password=True)
    return StoreUnavailable(f"store {where}: {type(reason).__name__}: {reason}")


async def open_store(url: str) -> AsyncEngine:
    """An engine for ``url`` (``sqlite+aiosqlite:///file`` or
    ``postgresql+asyncpg://...``) with every table created and a store made by an
    older version migrated (raises StoreUnavailable when that fails)."""
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            for step in await migrate(connection):
                logger.info("store migrated: %s", step)
    except (SQLAlchemyError, OSError) as error:
        await engine.dispose()
        raise unavailable(engine, error) from error
    return engine
