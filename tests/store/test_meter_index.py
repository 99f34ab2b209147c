"""A store made before metered M&V gets the index that reads meter values by time
(v2g.store.migrations), and opening it again changes nothing."""

from __future__ import annotations

import sqlite3

from v2g.store import open_store, sqlite_url


async def test_an_older_store_gets_the_meter_values_time_index_once(tmp_path):
    db = tmp_path / "v2g.db"
    with sqlite3.connect(db) as old:
        old.execute(
            "CREATE TABLE meter_values (id INTEGER PRIMARY KEY, session_id VARCHAR(128) "
            "NOT NULL, at DATETIME NOT NULL, power_w FLOAT NOT NULL, soc_percent FLOAT)"
        )
    for _ in range(2):
        engine = await open_store(sqlite_url(db))
        await engine.dispose()
    with sqlite3.connect(db) as found:
        indexes = [row[1] for row in found.execute("PRAGMA index_list(meter_values)")]
    assert indexes.count("ix_meter_values_at") == 1
