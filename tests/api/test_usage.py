"""``GET /api/v1/usage`` from stored sessions and meter values: JSON and CSV, and bad
queries refused with problem+json."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.api.conftest import T0
from v2g.session import PowerMeasured, SessionEnded, SessionStarted

DAY_BEFORE = (T0 - timedelta(days=1)).isoformat()


async def charged_yesterday(api):
    """evse-a: 11 kW from 15:00 to 17:00 (22 kWh); evse-b: 5 kW discharged 15:00-16:00."""
    for evse, session, power_w, hours in [
        ("evse-a", "u1", 11_000.0, 2),
        ("evse-b", "u2", -5_000.0, 1),
    ]:
        begin = T0 - timedelta(hours=3)
        await api.services.sessions.record(SessionStarted(evse, session, begin, "car", "-2"))
        await api.services.sessions.record(PowerMeasured(evse, session, begin, power_w))
        end = begin + timedelta(hours=hours)
        await api.services.sessions.record(SessionEnded(evse, session, end, "done"))


async def test_usage_counts_energy_time_and_v2g_per_evse_and_hour(api):
    await charged_yesterday(api)
    response = await api.client.get(
        "/api/v1/usage",
        params={"from": DAY_BEFORE, "to": T0.isoformat()},
        headers=api.auth("viewer"),
    )
    assert response.status == 200
    body = await response.json()
    evses = {e["evse_id"]: e for e in body["evses"]}
    assert evses["evse-a"]["charged_wh"] == pytest.approx(22_000)
    assert evses["evse-a"]["plugged_s"] == 2 * 3600 and evses["evse-a"]["sessions"] == 1
    assert evses["evse-b"]["discharged_wh"] == pytest.approx(5_000)
    assert body["site"]["charged_wh"] == pytest.approx(22_000)
    started = [h for h in body["hours_of_week"] if h["sessions_started"]]
    assert [(h["weekday"], h["hour"], h["sessions_started"]) for h in started] == [
        (T0.weekday(), 15, 2)
    ]


@pytest.mark.parametrize(("by", "rows"), [("evse", 2), ("hour", 168)])
async def test_usage_as_csv(api, by, rows):
    await charged_yesterday(api)
    response = await api.client.get(
        "/api/v1/usage",
        params={"from": DAY_BEFORE, "to": T0.isoformat(), "by": by},
        headers={**api.auth("operator"), "Accept": "text/csv"},
    )
    assert response.status == 200 and response.content_type == "text/csv"
    table = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(table) == rows
    if by == "evse":
        assert float(table[0]["charged_wh"]) == pytest.approx(22_000)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": "2026-07-01T00:00:00"}, "naive time"),
        ({"from": "yesterday"}, "not an ISO 8601 time"),
        ({"from": T0.isoformat(), "to": DAY_BEFORE}, "before to"),
        ({"from": (T0 - timedelta(days=93)).isoformat(), "to": T0.isoformat()}, "at most 92 days"),
        ({"tz": "Mars/Olympus"}, "unknown time zone"),
        ({"tz": "../../etc/passwd"}, "unknown time zone"),
        ({"by": "month"}, "by: must be"),
    ],
)
async def test_a_bad_usage_query_is_refused_with_the_parameter_named(api, params, reason):
    response = await api.client.get("/api/v1/usage", params=params, headers=api.auth("viewer"))
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert reason in (await response.json())["detail"]


async def test_usage_is_for_viewers_and_operators_not_utilities(api):
    response = await api.client.get("/api/v1/usage", headers=api.auth("utility"))
    assert response.status == 403
