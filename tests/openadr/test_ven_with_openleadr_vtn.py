"""The VEN against a real openleadr VTN on loopback: registration, events in, opt in and
out, plans that follow, reports out, modifications and cancellations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from openleadr import OpenADRServer
from openleadr.utils import increment_event_modification_number
from sqlalchemy.ext.asyncio import create_async_engine

from tests.openadr.conftest import SETTINGS
from tests.openadr.support import eventually, free_port
from tests.openadr.test_oadr3_restart import Process
from v2g.aggregator import Aggregator, RecordingLink
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.offers import StoreOffers
from v2g.clock import SystemClock
from v2g.openadr.ven import Oadr2Ven, VenConfig
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlSessionStore, open_store, sqlite_url
from v2g.testing.grid import CapacityGrid


@dataclass
class Vtn:
    server: OpenADRServer
    opts: dict[str, list[str]] = field(default_factory=dict)
    reports: dict[str, list[float]] = field(default_factory=dict)
    report_points: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    created_event_xml: list[str] = field(default_factory=list)
    url: str = ""

    def opt(self, ven_id: str, event_id: str, opt_type: str) -> None:
        self.opts.setdefault(event_id, []).append(opt_type)

    def event(self, event_id: str, payload_kw: float, start: datetime, minutes: float) -> None:
        self.server.add_event(
            "ven-1",
            "LOAD_DISPATCH",
            "setpoint",
            [
                {
                    "dtstart": start,
                    "duration": timedelta(minutes=minutes),
                    "signal_payload": payload_kw,
                }
            ],
            callback=self.opt,
            event_id=event_id,
        )

    def modify(self, event_id: str, payload_kw: float) -> None:
        [event] = [
            e for e in self.server.events["ven-1"] if e.event_descriptor.event_id == event_id
        ]
        event.event_signals[0].intervals[0]["signal_payload"] = payload_kw
        increment_event_modification_number(event)
        # openleadr pops the opt callback after the first answer: register it again.
        self.server.event_callbacks[event_id] = (event, self.opt)
        self.server.events_updated["ven-1"] = True


@pytest.fixture
async def vtn() -> AsyncIterator[Vtn]:
    port = free_port()
    server = OpenADRServer(
        vtn_id="VTN-TEST",
        http_host="127.0.0.1",
        http_port=port,
        requested_poll_freq=timedelta(seconds=1),
        show_fingerprint=False,
    )
    double = Vtn(server)

    async def on_create_party_registration(registration_info: dict[str, Any]) -> tuple[str, str]:
        return "ven-1", "reg-1"

    async def on_register_report(
        ven_id: str,
        resource_id: str,
        measurement: str,
        unit: str,
        scale: str,
        min_sampling_interval: timedelta,
        max_sampling_interval: timedelta,
    ) -> tuple[Callable[[Any], None], timedelta]:
        def collect(data: list[tuple[datetime, float]]) -> None:
            double.reports.setdefault(resource_id, []).extend(v for _, v in data)
            double.report_points.setdefault(resource_id, []).extend(data)

        return collect, timedelta(seconds=1)

    @web.middleware
    async def keep_created_events(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.text()
        if "oadrCreatedEvent" in body:
            double.created_event_xml.append(body)
        return await handler(request)

    server.add_handler("on_create_party_registration", on_create_party_registration)
    server.add_handler("on_register_report", on_register_report)
    server.app.middlewares.append(keep_created_events)
    await server.run()
    double.url = f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b"
    yield double
    await server.stop()


@pytest.fixture
async def ven(vtn: Vtn, fleet_site) -> AsyncIterator[Oadr2Ven]:
    _, intake = fleet_site
    config = VenConfig(vtn.url, "v2g-fleet", poll_interval_s=1, report_sampling_s=1)
    ven = Oadr2Ven(config, intake)
    await ven.start()
    yield ven
    await ven.stop()


def target_source(aggregator: Aggregator) -> str:
    snapshot = aggregator.latest()
    assert snapshot is not None and snapshot.plan is not None
    return snapshot.plan.target.sources[0]


async def test_the_ven_registers_opts_in_and_the_event_shapes_the_next_plan(vtn, ven, fleet_site):
    aggregator, _ = fleet_site
    assert ven.registered and ven.ven_id == "ven-1"
    vtn.event("evt-1", -15.0, datetime.now(UTC) + timedelta(seconds=1), 30)

    await eventually(lambda: vtn.opts.get("evt-1"))
    assert vtn.opts["evt-1"] == ["optIn"]
    await eventually(lambda: target_source(aggregator) == "dr openadr2b:evt-1 rev 0")
    snapshot = aggregator.latest()
    assert snapshot.plan.target.cap_w[0] == pytest.approx(-15_000)
    await eventually(lambda: snapshot_power(aggregator) < -14_000)


def snapshot_power(aggregator: Aggregator) -> float:
    snapshot = aggregator.latest()
    return snapshot.plan.power_now_w if snapshot and snapshot.plan else 0.0


async def test_the_vtn_receives_fleet_power_and_flexibility_reports(vtn, ven, fleet_site):
    await eventually(lambda: len(vtn.reports) == 8 and all(vtn.reports.values()))
    assert set(vtn.reports) == {
        "fleet_power_w",
        "flexibility_up_w",
        "flexibility_down_w",
        "baseline_w",
        "dr_asked_wh",
        "dr_delivered_wh",
        "dr_delivered_metered_wh",
        "dr_shortfall_wh",
    }
    # Two cars, 11 kW each way: the fleet can always move down (discharge) by 22 kW.
    await eventually(lambda: max(vtn.reports["flexibility_down_w"]) >= 22_000 - 1)

    # M&V goes to the VTN: energy delivered in an event the VEN took part in.
    vtn.event("evt-mv", -15.0, datetime.now(UTC), 30)
    await eventually(lambda: max(vtn.reports["dr_delivered_wh"]) > 1.0)
    await eventually(lambda: min(vtn.reports["fleet_power_w"]) < -14_000)


async def test_a_modification_replaces_the_event_and_a_cancellation_stops_it(vtn, ven, fleet_site):
    aggregator, _ = fleet_site
    vtn.event("evt-2", -10.0, datetime.now(UTC) + timedelta(seconds=1), 30)
    await eventually(lambda: target_source(aggregator) == "dr openadr2b:evt-2 rev 0")

    vtn.modify("evt-2", -20.0)
    await eventually(lambda: target_source(aggregator) == "dr openadr2b:evt-2 rev 1")
    assert aggregator.latest().plan.target.cap_w[0] == pytest.approx(-20_000)
    await eventually(lambda: ven.decisions["evt-2"].modification_number == 1)

    vtn.server.cancel_event("ven-1", "evt-2")
    await eventually(lambda: target_source(aggregator) == "")
    assert "openadr2b:evt-2" in aggregator.state.events.cancelled
    await eventually(lambda: snapshot_power(aggregator) >= 0)


async def test_the_ven_opts_out_with_the_reason_when_the_fleet_cannot_deliver(
    vtn, ven, fleet_site
):
    aggregator, _ = fleet_site
    vtn.event("evt-big", -100.0, datetime.now(UTC) + timedelta(seconds=1), 30)
    await eventually(lambda: vtn.opts.get("evt-big"))
    assert vtn.opts["evt-big"] == ["optOut"]
    reason = ven.decisions["evt-big"].reason
    assert "at most 22000 W" in reason and "asks 100000 W" in reason
    assert any("at most 22000 W" in xml for xml in vtn.created_event_xml)
    # The refused event never reaches the plan.
    assert "openadr2b:evt-big" not in aggregator.state.events.events


async def test_an_unknown_signal_is_refused_with_the_reason(vtn, ven, fleet_site):
    aggregator, _ = fleet_site
    vtn.server.add_event(
        "ven-1",
        "BID_LOAD",
        "setpoint",
        [{"dtstart": datetime.now(UTC), "duration": timedelta(minutes=5), "signal_payload": 1.0}],
        callback=vtn.opt,
        event_id="evt-bid",
    )
    await eventually(lambda: vtn.opts.get("evt-bid"))
    assert vtn.opts["evt-bid"] == ["optOut"]
    assert "not in the signal mapping" in ven.decisions["evt-bid"].reason
    assert not aggregator.state.events.events


async def test_a_killed_1000_car_ven_answers_held_before_its_first_plan(vtn, tmp_path):
    """SIGKILLed and restarted (a real process, a real SQLite store): the VTN's event
    comes back while the 1,000-car aggregator has no plan yet; the answer is optIn
    "held", not "no fleet plan yet" (issue 22)."""
    db = tmp_path / "v2g.db"
    first = await Process.start("tests.openadr.ven_process", db, vtn.url)
    try:
        await first.until(lambda f: "cycle" in f)  # new events are judged against a plan
        vtn.event("evt-kill", -2000.0, datetime.now(UTC), 60)
        taken = await first.until(lambda f: f.get("decision") == "evt-kill")
        assert taken["answer"] == "optIn", taken["reason"]
        await first.until(lambda f: "openadr2b:evt-kill" in " ".join(f.get("sources") or []))
    finally:
        await first.kill()

    [event] = [e for e in vtn.server.events["ven-1"] if e.event_descriptor.event_id == "evt-kill"]
    vtn.server.event_callbacks["evt-kill"] = (event, vtn.opt)
    second = await Process.start("tests.openadr.ven_process", db, vtn.url)
    try:
        again = await second.until(lambda f: f.get("decision") == "evt-kill")
        resumed = await second.until(lambda f: "cycle" in f)
    finally:
        await second.kill()
    assert again["answer"] == "optIn" and "held" in again["reason"]
    assert not again["first_plan_made"]
    assert "openadr2b:evt-kill" in " ".join(resumed["sources"])
    await eventually(lambda: vtn.opts.get("evt-kill") == ["optIn", "optIn"])


async def test_a_restarted_ven_opts_in_again_to_an_event_it_already_holds(vtn, fleet_site):
    aggregator, intake = fleet_site
    config = VenConfig(vtn.url, "v2g-fleet", poll_interval_s=1, report_sampling_s=1)
    first = Oadr2Ven(config, intake)
    await first.start()
    vtn.event("evt-again", -10.0, datetime.now(UTC) + timedelta(seconds=1), 30)
    await eventually(lambda: vtn.opts.get("evt-again"))
    await first.stop()

    # A new VEN process (same store and aggregator state): the VTN sends the event again.
    [event] = [e for e in vtn.server.events["ven-1"] if e.event_descriptor.event_id == "evt-again"]
    vtn.server.event_callbacks["evt-again"] = (event, vtn.opt)
    # Restarted: the same events as before, but no plan yet (with 1,000 cars the
    # first plan takes seconds; the VTN's re-send comes first).
    restarted = Aggregator(
        aggregator.site,
        CapacityGrid(1e6),
        RecordingLink(),
        SystemClock(),
        SETTINGS,
        state=aggregator.state,
    )
    assert restarted.latest() is None
    second = Oadr2Ven(config, DemandResponseIntake(restarted, intake._store))
    await second.start()
    try:
        await eventually(lambda: len(vtn.opts["evt-again"]) == 2)
        assert vtn.opts["evt-again"] == ["optIn", "optIn"]
        assert "held" in second.decisions["evt-again"].reason
        assert restarted.state.events.events["openadr2b:evt-again"].modification_number == 0
    finally:
        await second.stop()
        restarted.close()


async def test_a_failing_handler_opts_out_and_shows_in_health_until_an_event_goes_well(
    fleet_site,
):
    _, intake = fleet_site
    ven = Oadr2Ven(VenConfig("http://127.0.0.1:9/OpenADR2/Simple/2.0b", "v2g-fleet"), intake)
    assert intake.channel_notes() == []
    broken = {  # a signal without a name: KeyError in the handler
        "event_descriptor": {"event_id": "evt-x", "modification_number": 0},
        "event_signals": [{"intervals": []}],
    }
    assert await ven.handle_event(broken) == "optOut"
    [note] = intake.channel_notes()
    assert "evt-x" in note and "handler failed" in note
    cancelled = {
        "event_descriptor": {
            "event_id": "evt-y",
            "modification_number": 1,
            "event_status": "cancelled",
        }
    }
    assert await ven.handle_event(cancelled) == "optIn"
    assert intake.channel_notes() == []


async def test_a_vtn_that_answers_garbage_shows_its_words_in_the_link_status(fleet_site):
    """A VTN behind a proxy answering 503 with a text body: openleadr only logs it; the
    VEN's link status carries the VTN's words, for /api/v1/health."""
    _, intake = fleet_site

    async def refuse(_: web.Request) -> web.Response:
        return web.Response(status=503, text="maintenance until 10:00 UTC")

    app = web.Application()
    app.router.add_post("/OpenADR2/Simple/2.0b/{service}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b"
        ven = Oadr2Ven(VenConfig(url, "v2g-fleet"), intake)
        await ven.start()
        await ven.stop()
    finally:
        await runner.cleanup()
    status = intake.channel_status()["openadr2b"]
    assert status["connected"] is False and status["registered"] is False
    assert "maintenance until 10:00 UTC" in str(status["last_error"])
    assert status["failures"] >= 1
    assert any("not registered" in note for note in intake.channel_notes())


async def evenings_of_history(engine, chargers, days: int) -> None:
    """Each of the last ``days`` evenings, the site's cars arrived at 16:00 UTC for 14 h
    and charged 11 kWh in the first hour."""
    records = SqlSessionStore(engine)
    today = datetime.now(UTC).replace(hour=16, minute=0, second=0, microsecond=0)
    for day in range(1, days + 1):
        begin = today - timedelta(days=day)
        for evse in chargers:
            session = f"h-{day}-{evse}"
            await records.record(SessionStarted(evse, session, begin, "car", "-20"))
            await records.record(PowerMeasured(evse, session, begin, 11_000.0))
            await records.record(PowerMeasured(evse, session, begin + timedelta(hours=1), 0.0))
            await records.record(SessionEnded(evse, session, begin + timedelta(hours=14), "left"))


@pytest.fixture
async def day_ahead_ven(
    vtn: Vtn, fleet_site, tmp_path
) -> AsyncIterator[Callable[[int], Awaitable[Oadr2Ven]]]:
    """Starts a VEN after ``days`` evenings of history, judging events past the plan's
    horizon by the P90 offer from a real store and reporting the day-ahead offer (as
    ``v2g serve`` wires it, v2g.service.openadr_link)."""
    aggregator, intake = fleet_site
    engine = await open_store(sqlite_url(tmp_path / "history.db"))
    started: list[Oadr2Ven] = []

    async def start(days: int) -> Oadr2Ven:
        await evenings_of_history(engine, aggregator.site.chargers, days)
        offers = StoreOffers(SqlSessionStore(engine), aggregator)
        config = VenConfig(vtn.url, "v2g-fleet", poll_interval_s=1, report_sampling_s=1)
        started.append(Oadr2Ven(config, intake, offers=offers))
        await started[-1].start()
        return started[-1]

    yield start
    for ven in started:
        await ven.stop()
    await engine.dispose()


def tomorrow_at_17() -> datetime:
    return datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )


async def answer_to_tomorrow(vtn: Vtn, ven: Oadr2Ven, event_id: str) -> tuple[list[str], str]:
    """The VEN's answers to a 15 kW export event tomorrow 17:00..19:00, and its reason."""
    vtn.event(event_id, -15.0, tomorrow_at_17(), 120)
    await eventually(lambda: vtn.opts.get(event_id))
    return vtn.opts[event_id], ven.decisions[event_id].reason


async def test_an_event_for_tomorrow_is_taken_when_the_expected_arrivals_cover_it(
    vtn, day_ahead_ven, fleet_site
):
    aggregator, _ = fleet_site
    answers, reason = await answer_to_tomorrow(vtn, await day_ahead_ven(21), "evt-tomorrow")
    assert answers == ["optIn"], reason
    assert "by the P90 day-ahead offer (90% confidence: 21 days of history" in reason
    assert "openadr2b:evt-tomorrow" in aggregator.state.events.events


async def test_an_event_for_tomorrow_without_history_is_refused_and_says_how_sure(
    vtn, day_ahead_ven, fleet_site
):
    aggregator, _ = fleet_site
    # The two cars plugged in leave in 10 h; no history: nobody is expected tomorrow.
    answers, reason = await answer_to_tomorrow(vtn, await day_ahead_ven(0), "evt-empty")
    assert answers == ["optOut"]
    assert "expected to export at most 0 W" in reason
    assert "90% confidence (P90 day-ahead offer: only the 2 vehicles plugged in now" in reason
    assert any("P90 day-ahead offer" in xml for xml in vtn.created_event_xml)
    assert "openadr2b:evt-empty" not in aggregator.state.events.events


async def test_the_vtn_receives_the_day_ahead_offer_per_hour_of_tomorrow_at_p50_and_p90(
    vtn, day_ahead_ven, fleet_site
):
    await day_ahead_ven(21)
    offered = ("offer_export_p50_w", "offer_export_p90_w", "offer_shed_p50_w", "offer_shed_p90_w")
    await eventually(lambda: all(len(vtn.report_points.get(r, [])) >= 24 for r in offered), 60)
    tomorrow = tomorrow_at_17().replace(hour=0)
    p90 = dict(vtn.report_points["offer_export_p90_w"][-24:])
    p50 = dict(vtn.report_points["offer_export_p50_w"][-24:])
    assert sorted(p90) == [tomorrow + timedelta(hours=h) for h in range(24)]
    # Every evening both cars (11 kW each way) stay 16:00..06:00 with 13 h to spare.
    evening = tomorrow + timedelta(hours=18)
    assert p90[evening] == pytest.approx(22_000), (p90, p50)
    assert p50[evening] >= p90[evening]
    assert p90[tomorrow + timedelta(hours=10)] == 0  # nobody is there in the morning


async def test_an_offer_that_cannot_be_made_leaves_the_report_empty_says_why_and_the_rest_runs(
    vtn, fleet_site, tmp_path
):
    aggregator, intake = fleet_site
    # A store without its tables: reading the history fails as a broken store would.
    broken = create_async_engine(sqlite_url(tmp_path / "empty.db"))
    config = VenConfig(vtn.url, "v2g-fleet", poll_interval_s=1, report_sampling_s=1)
    ven = Oadr2Ven(config, intake, offers=StoreOffers(SqlSessionStore(broken), aggregator))
    await ven.start()
    try:
        assert await ven.day_ahead_table() == {}
        assert any("day-ahead offer report failed" in n and "sessions" in n for n in ven.notes())
        # Registered, polling and reporting telemetry all the same.
        await eventually(lambda: vtn.reports.get("fleet_power_w"))
        assert ven.registered
        assert not vtn.report_points.get("offer_export_p90_w")
    finally:
        await ven.stop()
        await broken.dispose()
