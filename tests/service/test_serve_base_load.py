"""``v2g serve`` learns the feeder's base load from the readings in its store: readings
posted through the API, the service restarted (it learns at start, then every 6 h),
the forecast at ``GET /api/v1/forecast/base-load`` and the plan's grid at its P90."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.forecast.test_baseload_accuracy import load
from tests.service.processes import CHARGER_E1, SITE_HEAD, Service, free_port, v2g
from tests.service.processes import api as call

SITE = SITE_HEAD + CHARGER_E1
#: Readings per request (a body holds at most 64 kB).
BATCH = 1000


def readings(weeks: int) -> list[dict[str, object]]:
    """The residential profile as factors of its mean, a reading per quarter hour from a
    Monday ``weeks`` back until now."""
    now = datetime.now(UTC)
    start = (now - timedelta(weeks=weeks)).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=start.weekday())
    profile = load()
    count = int((now - start).total_seconds() // 900)
    factors = profile[:count] / profile.mean()
    return [
        {"at": (start + timedelta(minutes=15 * k)).isoformat(), "factor": round(float(f), 4)}
        for k, f in enumerate(factors)
    ]


def until_learned(port: int, token: str, within_s: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + within_s
    while True:
        status, body = call(port, "GET", "/api/v1/forecast/base-load", token)
        assert status == 200
        if body["slots"] or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_serve_learns_the_base_load_from_its_store_and_plans_with_p90(tmp_path):
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(SITE.format(data=tmp_path / "data", api_port=port))
    operator = v2g("token", "create", "--role", "operator", "--config", str(config))
    assert operator.returncode == 0, operator.stderr
    token = operator.stdout.strip()
    service = Service(config, port, tmp_path / "serve.log")
    try:
        first = until_learned(port, token, within_s=3)
        assert first["slots"] == [] and "no base-load readings" in first["status"]
        sent = readings(7)
        for k in range(0, len(sent), BATCH):
            status, body = call(
                port, "POST", "/api/v1/feeder/base-load", token, {"readings": sent[k : k + BATCH]}
            )
            assert status == 200, body
        refused = call(port, "POST", "/api/v1/feeder/base-load", token, {"readings": [{}]})
        assert refused[0] == 400
    finally:
        service.stop()

    service = Service(config, port, tmp_path / "serve.log")
    try:
        learned = until_learned(port, token)
        assert "days of readings up to" in str(learned["status"]), learned["status"]
        slots = learned["slots"]
        assert isinstance(slots, list) and len(slots) == 192
        # The plan's grid takes the P90 factor of its moment (once a cycle ran after
        # the forecast was learned).
        deadline = time.monotonic() + 30
        while True:
            status, grid = call(port, "GET", "/api/v1/grid", token)
            assert status == 200
            at = datetime.fromisoformat(grid["at"])
            current = [s for s in slots if datetime.fromisoformat(s["start"]) <= at]
            p90 = current[-1]["factors"][2] if current else slots[0]["factors"][2]
            if grid["profile"]["base_load_factor"] == pytest.approx(p90):
                break
            assert time.monotonic() < deadline, (grid["profile"]["base_load_factor"], p90)
            time.sleep(0.5)
    finally:
        service.stop()
