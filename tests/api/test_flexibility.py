"""``GET /api/v1/flexibility``: a day-ahead offer from the store's history, or from
the cars plugged in when the history is too short (and it says so)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import T0, record_evenings

TOMORROW_EVENING = {
    "start": (T0 + timedelta(hours=23)).isoformat(),
    "end": (T0 + timedelta(hours=25)).isoformat(),
}


async def offer(api, params, role="utility"):
    return await api.client.get("/api/v1/flexibility", params=params, headers=api.auth(role))


async def test_without_history_the_offer_counts_the_cars_plugged_in_and_says_so(api):
    response = await offer(api, TOMORROW_EVENING | {"confidence": "0.9"})
    assert response.status == 200
    body = await response.json()
    assert "only the 2 vehicles plugged in now" in body["basis"]
    assert len(body["slots"]) == 8 and body["confidence"] == 0.9


async def test_with_three_weeks_of_history_the_offer_resamples_similar_days(api):
    await record_evenings(api, 21)
    body = await (await offer(api, TOMORROW_EVENING)).json()
    assert "21 days of history resampled" in body["basis"]
    # Every evening two V2G cars with hours of slack: both can export at 11 kW.
    assert all(s["export_w"] >= 22_000 for s in body["slots"])


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"start": TOMORROW_EVENING["start"]}, "both needed"),
        (TOMORROW_EVENING | {"confidence": "1.5"}, "confidence"),
        (TOMORROW_EVENING | {"confidence": "nan"}, "confidence"),
        ({"start": (T0 - timedelta(hours=1)).isoformat(), "end": T0.isoformat()}, "from now on"),
        (
            {"start": T0.isoformat(), "end": (T0 + timedelta(hours=30)).isoformat()},
            "at most 24 h",
        ),
        (
            {
                "start": (T0 + timedelta(days=5)).isoformat(),
                "end": (T0 + timedelta(days=5, hours=1)).isoformat(),
            },
            "within 2 days",
        ),
    ],
)
async def test_a_bad_window_is_refused(api, params, reason):
    response = await offer(api, params)
    assert response.status == 400 and reason in (await response.json())["detail"]


async def test_offers_are_for_utilities_and_operators(api):
    assert (await offer(api, TOMORROW_EVENING, role="viewer")).status == 403
    assert (await offer(api, TOMORROW_EVENING, role="operator")).status == 200


@pytest.fixture
async def small_feeder_api(tmp_path):
    """The same two V2G cars behind a 15 kW transformer."""
    from tests.api.conftest import running_api
    from v2g.testing.grid import CapacityGrid

    async with running_api(tmp_path, CapacityGrid(15_000), "fake feeder", 1) as running:
        yield running


async def test_the_export_offered_is_held_to_what_the_feeder_can_take(small_feeder_api):
    await record_evenings(small_feeder_api, 21)
    body = await (await offer(small_feeder_api, TOMORROW_EVENING)).json()
    # The cars could export 22 kW; the transformer takes 15 kW (its grid rows).
    assert max(s["export_w"] for s in body["slots"]) == pytest.approx(15_000)
    assert "export held to the feeder's room" in body["basis"]
    assert all(s["shed_w"] >= 0 for s in body["slots"])  # shedding is not capped
