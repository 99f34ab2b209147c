"""A killed OpenADR 3 aggregator with 1,000 cars comes back: before its first plan it
has cancelled the event the VTN deleted while it was down and answered "held" for the
event it still holds (a real process on a real SQLite store, SIGKILLed)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.openadr.test_oadr3_client import free_port
from tests.openadr.vtn3 import Vtn3

ROOT = Path(__file__).parents[2]


class Process:
    """The OpenADR 3 aggregator process, read line by line without blocking the VTN."""

    def __init__(self, popen: asyncio.subprocess.Process) -> None:
        self.popen = popen
        self.facts: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, module: str, db: Path, url: str) -> Process:
        """``python -m module DB URL`` in the repository."""
        popen = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            str(db),
            url,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return cls(popen)

    async def until(self, wanted: Any, timeout_s: float = 120.0) -> dict[str, Any]:
        assert self.popen.stdout is not None
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self.popen.stdout.readline()
                if not line:
                    raise AssertionError(f"process ended; saw {self.facts[-5:]}")
                fact = json.loads(line)
                self.facts.append(fact)
                if wanted(fact):
                    return fact

    async def kill(self) -> None:
        if self.popen.returncode is None:
            self.popen.kill()  # SIGKILL: no clean-up, no flush
        await self.popen.wait()


def sources(fact: dict[str, Any]) -> str:
    return " ".join(fact.get("sources") or [])


async def test_a_killed_aggregator_cancels_what_the_vtn_deleted_before_its_first_plan(
    tmp_path,
):
    vtn = Vtn3(free_port())
    await vtn.up()
    db = tmp_path / "v2g.db"
    now = datetime.now(UTC) - timedelta(seconds=5)
    vtn.event("keep", "IMPORT_CAPACITY_LIMIT", 3000, now, duration="PT1H")
    vtn.event("gone", "DISPATCH_SETPOINT", -2000, now, duration="PT1H")
    try:
        first = await Process.start("tests.openadr.oadr3_process", db, vtn.base_url)
        try:
            caught_up = await first.until(lambda f: "caught_up" in f)
            assert caught_up["caught_up"], caught_up["error"]
            executing = await first.until(lambda f: "openadr3:gone" in sources(f))
            assert executing["power_w"] < 0  # exporting for the event about to be deleted
        finally:
            await first.kill()
        revision = {e: vtn.events[e]["modificationDateTime"] for e in ("keep",)}

        del vtn.events["gone"]  # deleted while the aggregator is down
        second = await Process.start("tests.openadr.oadr3_process", db, vtn.base_url)
        try:
            back = await second.until(lambda f: "caught_up" in f)
            first_plan = await second.until(lambda f: "cycle" in f)
        finally:
            await second.kill()
    finally:
        await vtn.down()

    assert back["caught_up"] and not back["first_plan_made"]
    assert "openadr3:gone" in back["cancelled"]
    assert "openadr3:keep" in back["held"] and "openadr3:keep" not in back["cancelled"]
    assert "held" in back["answers"]["keep"]
    assert vtn.events["keep"]["modificationDateTime"] == revision["keep"]
    # The first plan after the restart never executes the deleted event.
    assert "openadr3:gone" not in sources(first_plan)
    assert "openadr3:keep" in sources(first_plan)
    assert first_plan["power_w"] <= 3_000_000 + 1e-6  # within the import limit it held
