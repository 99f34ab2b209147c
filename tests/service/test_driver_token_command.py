"""``v2g token create --role driver --driver ID``: a token bound to one registered
driver; every other use of ``--driver`` is refused with exit 2 and nothing stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.service.processes import v2g
from v2g.store import SqlTokenStore, open_store, sqlite_url
from v2g.store.drivers import SqlDriverStore


def site(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(f'[store]\nurl = "{sqlite_url(tmp_path / "v2g.db")}"\n')
    return config


async def _register(url: str) -> None:
    engine = await open_store(url)
    await SqlDriverStore(engine).create("d-1", "Ada", datetime.now(UTC))
    await engine.dispose()


async def _holder(url: str, token: str):
    engine = await open_store(url)
    try:
        return await SqlTokenStore(engine).find(token)
    finally:
        await engine.dispose()


def test_a_driver_token_speaks_for_its_registered_driver_only(tmp_path):
    config = site(tmp_path)
    url = sqlite_url(tmp_path / "v2g.db")
    for args, said in [
        (["--role", "driver"], "--driver ID goes with --role driver"),
        (["--role", "viewer", "--driver", "d-1"], "--driver ID goes with --role driver"),
        (["--role", "driver", "--driver", "nobody"], "no driver nobody"),
    ]:
        done = v2g("token", "create", *args, "--config", str(config))
        assert done.returncode == 2 and said in done.stderr, done.stderr
        assert done.stdout == ""
    asyncio.run(_register(url))
    done = v2g("token", "create", "--role", "driver", "--driver", "d-1", "--config", str(config))
    assert done.returncode == 0, done.stderr
    holder = asyncio.run(_holder(url, done.stdout.strip()))
    assert holder is not None and (holder.role, holder.driver_id) == ("driver", "d-1")
