"""The base-load forecast in the service: readings in through the API (all or none),
learned from the store (real SQLite, the ev2gym residential profile), handed to the
planner's state at P90 and shown at ``GET /api/v1/forecast/base-load``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import T0
from tests.forecast.test_baseload_accuracy import load

URL = "/api/v1/feeder/base-load"
FORECAST = "/api/v1/forecast/base-load"


def monday_before(weeks: int):
    start = T0 - timedelta(weeks=weeks)
    return (start - timedelta(days=start.weekday())).replace(hour=0, minute=0)


async def store_profile(api, weeks: int) -> None:
    """The residential profile as factors of its mean, one reading per quarter hour
    from a Monday ``weeks`` back until now."""
    profile = load()
    start = monday_before(weeks)
    count = int((T0 - start).total_seconds() // 900)
    factors = profile[:count] / profile.mean()
    readings = [(start + timedelta(minutes=15 * k), float(f)) for k, f in enumerate(factors)]
    await api.services.base_load_readings.add(readings)


async def test_the_service_learns_the_base_load_and_the_planner_takes_p90(api):
    await store_profile(api, 8)
    await api.services.base_load.learn_once()
    body = await (await api.client.get(FORECAST, headers=api.auth("utility"))).json()
    assert body["status"].startswith("learned from") and body["plan_quantile"] == 0.9
    assert body["quantiles"] == [0.1, 0.5, 0.9] and len(body["slots"]) == 192
    first = body["slots"][0]
    assert first["start"] == T0.isoformat()
    assert first["factors"] == sorted(first["factors"])
    curve = api.services.aggregator.state.base_load
    for slot in body["slots"][::24]:
        moment = T0.fromisoformat(slot["start"])
        assert curve.at(moment) == pytest.approx(slot["factors"][2])
    # It follows the day: the evening peak above the small hours (P50).
    by_start = {s["start"]: s["factors"][1] for s in body["slots"]}
    night = (T0 + timedelta(hours=9)).isoformat()  # 03:00 tomorrow
    assert by_start[T0.isoformat()] > by_start[night]


async def test_too_few_readings_leave_the_planner_as_it_was_and_say_why(api):
    await store_profile(api, 3)
    before = api.services.aggregator.state.base_load
    await api.services.base_load.learn_once()
    body = await (await api.client.get(FORECAST, headers=api.auth("operator"))).json()
    assert body["slots"] == [] and "42 needed" in body["status"]
    assert api.services.aggregator.state.base_load == before


async def test_readings_posted_are_stored(api):
    readings = [
        {"at": T0.isoformat(), "factor": 0.8},
        {"at": (T0 + timedelta(minutes=15)).isoformat(), "factor": 1.1},
    ]
    response = await api.client.post(
        URL, json={"readings": readings}, headers=api.auth("operator")
    )
    assert response.status == 200 and (await response.json())["stored"] == 2
    again = [{"at": T0.isoformat(), "factor": 0.9}]  # a moment stored again replaces it
    await api.client.post(URL, json={"readings": again}, headers=api.auth("operator"))
    stored = await api.services.base_load_readings.since(T0 - timedelta(hours=1))
    assert [f for _, f in stored] == [0.9, 1.1]


@pytest.mark.parametrize(
    ("readings", "reason"),
    [
        ([], "readings: must not be empty"),
        ([{"at": "2026-07-01T18:00:00", "factor": 1.0}], "readings[0].at: naive time"),
        (
            [{"at": "2026-07-01T18:00:00Z", "factor": "1.0"}],
            "readings[0].factor: must be a finite",
        ),
        ([{"at": "2026-07-01T18:00:00Z", "factor": 50}], "readings[0].factor: must be <= 10"),
        ([{"at": "2026-07-01T18:00:00Z", "factor": 1, "kw": 3}], "kw: unknown field"),
        ([{"at": "2026-07-01T18:00:00Z", "factor": 1}, "x"], "readings[1]: must be an object"),
    ],
)
async def test_bad_readings_are_refused_and_none_is_stored(api, readings, reason):
    response = await api.client.post(
        URL, json={"readings": readings}, headers=api.auth("operator")
    )
    assert response.status == 400 and reason in (await response.json())["detail"]
    assert await api.services.base_load_readings.since(T0 - timedelta(days=1)) == []


async def test_readings_come_from_operators_and_forecasts_go_to_utilities(api):
    one = {"readings": [{"at": T0.isoformat(), "factor": 1.0}]}
    assert (await api.client.post(URL, json=one, headers=api.auth("utility"))).status == 403
    assert (await api.client.get(FORECAST, headers=api.auth("viewer"))).status == 403
