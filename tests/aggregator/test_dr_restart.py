"""DR events survive a killed process: the event resumes, a missed start is handled
once, a finished event is not replayed (a real process on a real SQLite store)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from v2g.store import open_store, sqlite_url
from v2g.store.boundaries import SqlBoundaryStore

ROOT = Path(__file__).parents[2]


class Process:
    """The DR process under test, read line by line."""

    def __init__(self, db: Path, *specs: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.aggregator.dr_process", str(db), *specs],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.facts: list[dict[str, Any]] = []

    def until(self, wanted: Any, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        assert self.popen.stdout is not None
        while time.monotonic() < deadline:
            line = self.popen.stdout.readline()
            if not line:
                raise AssertionError(f"process ended; saw {self.facts}")
            fact = json.loads(line)
            self.facts.append(fact)
            if wanted(fact):
                return fact
        raise AssertionError(f"not seen in time; saw {self.facts[-5:]}")

    def kill(self, how: int = signal.SIGKILL) -> None:
        self.popen.send_signal(how)
        self.popen.wait(timeout=10)
        assert self.popen.stdout is not None
        self.popen.stdout.close()


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


async def test_a_killed_process_resumes_its_event_and_replays_nothing(tmp_path):
    db = tmp_path / "v2g.db"
    # A runs long; B ends while the process is down; C starts while it is down.
    first = Process(db, "A:export_w:10000:1:120", "B:export_w:5000:1:5", "C:shed_w:0:7:120")
    try:
        ready = datetime.fromisoformat(first.until(lambda f: "ready" in f)["ready"]).timestamp()
        first.until(lambda f: f.get("boundary") == "dr:B:0:start")
        first.until(lambda f: f.get("source") == "dr A rev 0")
        first.until(lambda f: f.get("asked_wh", {}).get("A", 0) > 2)
        first.until(lambda f: "cycle" in f)  # the measurement above is stored by now
    finally:
        first.kill()
    measured = [f["asked_wh"]["A"] for f in first.facts if "A" in f.get("asked_wh", {})]
    assert not any(f.get("boundary") == "dr:C:0:start" for f in first.facts)

    sleep_until(ready + 8)
    second = Process(db)
    try:
        reconciled = second.until(lambda f: "reconciled" in f)
        resumed = second.until(lambda f: f.get("source") == "dr A rev 0")
    finally:
        second.kill(signal.SIGTERM)
    # M&V goes on from what was stored: nothing measured before the kill is lost.
    assert resumed["asked_wh"]["A"] >= measured[-2]

    decision = reconciled["reconciled"]
    assert decision["resumed"] == ["A", "C"]
    assert decision["finished"] == ["B"]
    assert decision["handle"] == ["dr:B:0:end", "dr:C:0:start"]
    assert decision["skip"] == []
    assert reconciled["pending"] == ["dr:A:0:end", "dr:C:0:end"]
    # The second process handled nothing the first one had handled.
    assert not any(f.get("boundary") in ("dr:A:0:start", "dr:B:0:start") for f in second.facts)

    engine = await open_store(sqlite_url(db))
    history = await SqlBoundaryStore(engine).history()
    await engine.dispose()
    handled = [(row["key"], row["how"]) for row in history]
    assert sorted(handled) == [
        ("dr:A:0:start", "on time"),
        ("dr:B:0:end", "missed while down, handled at start-up"),
        ("dr:B:0:start", "on time"),
        ("dr:C:0:start", "missed while down, handled at start-up"),
    ]


@pytest.mark.parametrize("restarts", [2])
async def test_restarting_again_handles_nothing_twice(tmp_path, restarts):
    db = tmp_path / "v2g.db"
    first = Process(db, "A:export_w:10000:1:120")
    try:
        first.until(lambda f: f.get("boundary") == "dr:A:0:start")
    finally:
        first.kill()
    for _ in range(restarts):
        again = Process(db)
        try:
            reconciled = again.until(lambda f: "reconciled" in f)
            again.until(lambda f: f.get("source") == "dr A rev 0")
        finally:
            again.kill()
        assert reconciled["reconciled"]["handle"] == []
        assert reconciled["reconciled"]["resumed"] == ["A"]
