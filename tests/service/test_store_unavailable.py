"""A store that cannot be written at start-up (a read-only database) stops ``v2g
serve`` and ``v2g token create`` with exit 2 and one line, not a traceback."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from v2g.service.config import SiteConfig
from v2g.store import StoreUnavailable, open_store, sqlite_url

ROOT = Path(__file__).parents[2]


def read_only_site(tmp_path: Path, with_tables: bool) -> Path:
    """A site whose SQLite store opens read-only (``mode=ro``: read-only even for
    root, which file permissions are not)."""
    db = tmp_path / "v2g.db"
    if with_tables:
        asyncio.run(_create(db))
    else:
        sqlite3.connect(db).close()
    site = tmp_path / "site.toml"
    site.write_text(
        f'[store]\nurl = "sqlite+aiosqlite:///file:{db}?mode=ro&uri=true"\n'
        "[api]\nport = 1\n",  # never reached
        encoding="utf-8",
    )
    return site


async def _create(db: Path) -> None:
    engine = await open_store(sqlite_url(db))
    await engine.dispose()


def v2g(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "v2g", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize("with_tables", [False, True], ids=["empty file", "existing store"])
def test_serve_on_a_read_only_store_exits_2_with_one_line(tmp_path, with_tables):
    done = v2g("serve", "--config", str(read_only_site(tmp_path, with_tables)))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "readonly database" in lines[0] and "Traceback" not in done.stderr


def test_token_create_on_a_read_only_store_exits_2_with_one_line(tmp_path):
    site = read_only_site(tmp_path, with_tables=True)
    done = v2g("token", "create", "--role", "viewer", "--config", str(site))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


async def test_a_store_that_refuses_the_connection_is_named_without_its_password():
    with pytest.raises(StoreUnavailable) as raised:
        await open_store("postgresql+asyncpg://v2g:hunter2-secret@127.0.0.1:1/v2g")
    message = str(raised.value)
    assert "hunter2-secret" not in message and "***" in message
    assert len(message.splitlines()) == 1


def test_a_sqlite_uri_store_names_its_own_folder_not_one_called_file():
    config = SiteConfig(store_url="sqlite+aiosqlite:///file:/srv/v2g/v2g.db?mode=ro&uri=true")
    assert config.data_dir() == Path("/srv/v2g")
