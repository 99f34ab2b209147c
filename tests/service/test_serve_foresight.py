"""``v2g serve`` foresees the cars its store's history expects (decision 104): three
weeks of a car arriving at E1 every day at the same hour, the service started, and its
plan names the car foreseen for today before it comes; ``[control] foresee_arrivals =
false`` turns it off."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.service.processes import CHARGER_E1, SITE_HEAD, Service, free_port, v2g
from tests.service.processes import api as call
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlSessionStore, open_store, sqlite_url


async def _history(path: Path, arrival_today: datetime, days: int) -> None:
    """A car at E1 every day at ``arrival_today``'s time for ``days`` days before it:
    three hours, 11 kW for the first."""
    engine = await open_store(sqlite_url(path))
    sessions = SqlSessionStore(engine)
    try:
        for day in range(1, days + 1):
            begin = arrival_today - timedelta(days=day)
            session = f"past-{day}"
            await sessions.record(SessionStarted("E1", session, begin, "car", "-20"))
            await sessions.record(PowerMeasured("E1", session, begin, 11_000.0))
            await sessions.record(PowerMeasured("E1", session, begin + timedelta(hours=1), 0.0))
            await sessions.record(SessionEnded("E1", session, begin + timedelta(hours=3), "left"))
    finally:
        await engine.dispose()


def _foreseen(port: int, token: str, within_s: float) -> list[str]:
    deadline = time.monotonic() + within_s
    while True:
        status, plan = call(port, "GET", "/api/v1/plan", token)
        assert status == 200, plan
        found = [n for n in plan["notes"] if "(forecast " in n]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


@pytest.mark.parametrize("foresee", [True, False])
def test_serve_foresees_the_car_its_history_expects(tmp_path, foresee):
    # Within the next hour (the horizon is 8 quarter hours): the next whole hour.
    arrival = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    (tmp_path / "data").mkdir()
    asyncio.run(_history(tmp_path / "data" / "v2g.db", arrival, 21))
    port = free_port()
    config = tmp_path / "site.toml"
    head = SITE_HEAD.format(data=tmp_path / "data", api_port=port)
    config.write_text(head + f"foresee_arrivals = {str(foresee).lower()}\n" + CHARGER_E1)
    made = v2g("token", "create", "--role", "operator", "--config", str(config))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    service = Service(config, port, tmp_path / "serve.log")
    try:
        found = _foreseen(port, token, within_s=20 if foresee else 5)
        status, body = call(port, "GET", "/api/v1/forecast/sessions", token)
    finally:
        service.stop()
    assert status == 200
    if foresee:
        assert len(found) == 1 and found[0].startswith(
            f"expected: E1 (forecast {arrival:%a %H}:00)"
        )
        assert body["planner"].startswith("arrivals foreseen from 21 sessions on 21 days")
    else:
        assert found == []
        assert body["planner"] == "not learned yet"
