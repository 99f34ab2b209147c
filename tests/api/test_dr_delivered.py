"""What a DR event achieved, as the API shows it: energy asked, delivered, credited
(at most the ask) and delivered beyond the ask, in the event resources and the stream."""

from __future__ import annotations

from datetime import timedelta

import pytest

from v2g.demand_response import DemandResponseEvent
from v2g.store.measurements import SqlMeasurementStore

from .conftest import T0


async def _run(api, event: DemandResponseEvent, cycles: int) -> None:
    assert (await api.services.intake.receive(event, "test")).accepted
    aggregator = api.services.aggregator
    for _ in range(cycles):
        await aggregator.cycle()
        aggregator.clock.advance(900)
    await api.services.measurements.flush()


@pytest.mark.parametrize("asked_w", [2_000.0, 9_000.0, 20_000.0])
async def test_an_event_shows_what_it_delivered_against_what_it_asked(api, asked_w):
    event = DemandResponseEvent("evt-m", T0, T0 + timedelta(hours=2), "export_w", asked_w, 1)
    await _run(api, event, 3)
    reply = await api.client.get("/api/v1/dr-events/evt-m", headers=api.auth("utility"))
    measured = (await reply.json())["measurement"]
    hours = 2 * 900 / 3600  # three cycles: two whole steps integrated so far
    assert measured["asked_wh"] == pytest.approx(asked_w * hours)
    assert measured["credited_wh"] == pytest.approx(
        min(measured["delivered_wh"], measured["asked_wh"])
    )
    assert measured["beyond_ask_wh"] == pytest.approx(
        max(0.0, measured["delivered_wh"] - measured["asked_wh"])
    )
    assert measured["delivered_wh"] > 0
    listed = await (await api.client.get("/api/v1/dr-events", headers=api.auth("utility"))).json()
    assert listed["events"][0]["measurement"] == measured
    stored = {m.event_id: m for m in await SqlMeasurementStore(api.engine).all()}
    assert stored["evt-m"].asked_wh == pytest.approx(measured["asked_wh"])


async def test_an_event_not_yet_active_has_no_measurement(api):
    later = T0 + timedelta(hours=5)
    event = DemandResponseEvent("evt-later", later, later + timedelta(hours=1), "export_w", 5e3, 0)
    await _run(api, event, 1)
    reply = await api.client.get("/api/v1/dr-events/evt-later", headers=api.auth("utility"))
    assert (await reply.json())["measurement"] is None


async def test_the_stream_carries_each_events_measurement(api):
    event = DemandResponseEvent("evt-s", T0, T0 + timedelta(hours=2), "export_w", 8_000, 0)
    await _run(api, event, 2)
    async with api.client.ws_connect(
        "/api/v1/stream", protocols=("v2g.stream", f"bearer.{api.tokens['viewer']}")
    ) as socket:
        snapshot = await socket.receive_json(timeout=5)
    (shown,) = snapshot["dr_events"]
    assert shown["measurement"]["asked_wh"] == pytest.approx(8_000 * 0.25)
    assert shown["measurement"]["delivered_wh"] > 0
