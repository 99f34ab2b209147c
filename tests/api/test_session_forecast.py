"""``GET /api/v1/forecast/sessions``: arrivals, dwell and energy per hour of the week,
learned from the store's session history; too little history is said, not guessed."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import T0, record_evenings
from v2g.forecast.sessions import hour_of_week


async def forecast(api, params=None, role="utility"):
    return await api.client.get(
        "/api/v1/forecast/sessions", params=params or {}, headers=api.auth(role)
    )


async def test_with_three_weeks_of_history_the_evening_arrivals_are_forecast(api):
    await record_evenings(api, 21)
    response = await forecast(api, {"quantiles": "0.5,0.9"})
    assert response.status == 200
    body = await response.json()
    assert body["quantiles"] == [0.5, 0.9] and "42 sessions on 21 days" in body["basis"]
    assert body["planner"] == "not learned yet"  # the service learns at start and every 6 h
    evening = body["hours"][hour_of_week(T0 - timedelta(hours=1))]
    night = body["hours"][hour_of_week(T0 + timedelta(hours=6))]
    assert evening["arrivals"][0] >= 1 and night["arrivals"][1] == 0
    assert abs(evening["dwell_s"][0] - 14 * 3600) < 600
    assert abs(evening["energy_wh"][0] - 11_000) < 200


async def test_too_little_history_is_said_and_nothing_is_guessed(api):
    await record_evenings(api, 3)
    body = await (await forecast(api)).json()
    assert body["hours"] == [] and "3 days with sessions" in body["basis"]


async def test_bad_quantiles_are_refused_and_the_forecast_still_answers(api):
    await record_evenings(api, 21)
    for bad in ("0.5,1", "abc", "", "0.1," * 10):
        response = await forecast(api, {"quantiles": bad})
        assert response.status == 400 and "quantiles" in (await response.json())["detail"]
    spans, _ = await api.services.sessions.usage_records(T0 - timedelta(days=90), T0)
    assert len(spans) >= 42  # the history is untouched
    assert len((await (await forecast(api)).json())["hours"]) == 168


async def test_forecasts_are_for_utilities_and_operators(api):
    assert (await forecast(api, role="viewer")).status == 403
    assert (await forecast(api, role="operator")).status == 200


async def test_the_plan_foresees_the_evening_cars_the_history_expects(api):
    await record_evenings(api, 21)
    await api.services.arrivals.learn_once()
    assert api.services.arrivals.status.startswith("arrivals foreseen from 42 sessions")
    body = await (await forecast(api)).json()
    assert body["planner"].startswith("arrivals foreseen from 42 sessions on 21 days")
    # Thursday 06:00: the 12-hour horizon reaches 17:00; cars a and b leave at 07:00.
    api.services.aggregator.clock.advance(12 * 3600)  # type: ignore[attr-defined]
    await api.services.aggregator.cycle()
    body = await (await api.client.get("/api/v1/plan", headers=api.auth("viewer"))).json()
    foreseen = [n for n in body["notes"] if "(forecast Thu 17:00)" in n]
    assert len(foreseen) == 2, body["notes"]
