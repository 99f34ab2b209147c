"""``v2g serve`` with ``[openadr]`` as an operator runs it: a real openleadr VTN in the
same test run, the service as a real process; events created at the VTN reach the
plan, are modified and cancelled, survive a SIGKILL, and the VTN hears M&V reports;
the link's health is in ``/api/v1/health``. Bad ``[openadr]`` tables stop the
start-up with every problem named."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.openadr.support import eventually, free_port
from tests.openadr.test_ven_with_openleadr_vtn import Vtn, vtn  # noqa: F401 (fixture)
from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET, Vtn3
from tests.service.processes import (
    CHARGER_E1,
    SITE_HEAD,
    Service,
    api,
    report_v2x_session,
    v2g,
)
from v2g.clock import SystemClock
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_config import OcppStationConfig
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import (
    PowerMeasured,
)

SITE = SITE_HEAD + CHARGER_E1 + "[openadr]\n{openadr}\n"


def site(tmp_path: Path, port: int, openadr: str) -> Path:
    config = tmp_path / "site.toml"
    config.write_text(SITE.format(data=tmp_path / "data", api_port=port, openadr=openadr))
    return config


def token(config: Path, role: str) -> str:
    done = v2g("token", "create", "--role", role, "--config", str(config))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def call(port: int, path: str, token: str) -> Any:
    status, body = await asyncio.to_thread(api, port, "GET", path, token)
    assert status == 200, body
    return body


async def start(config: Path, port: int, log: Path) -> Service:
    return await asyncio.to_thread(Service, config, port, log)


async def test_a_vtn_event_reaches_the_plan_is_modified_survives_sigkill_and_is_cancelled(
    vtn: Vtn,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    port = free_port()
    config = site(
        tmp_path,
        port,
        f'version = "2.0b"\nvtn_url = "{vtn.url}"\nven_name = "v2g-fleet"\n'
        "poll_interval_s = 1\nreport_sampling_s = 1\n",
    )
    utility, viewer = token(config, "utility"), token(config, "viewer")
    log = tmp_path / "serve.log"
    service = await start(config, port, log)
    try:
        health = await call(port, "/api/v1/health", viewer)
        link = health["channels"]["openadr2b"]
        assert link["vtn_url"] == vtn.url and link["version"] == "2.0b"

        async def polled() -> dict[str, Any]:
            found = await call(port, "/api/v1/health", viewer)
            return dict(found["channels"]["openadr2b"])

        link = await until(polled, lambda s: s["connected"] and s["last_poll_at"])
        assert link["ven_id"] == "ven-1" and link["last_error"] is None

        # An import cap of 5 kW from 2 s on, for 30 minutes (LOAD_DISPATCH setpoint).
        vtn.event("evt-s", 5.0, datetime.now(UTC) + timedelta(seconds=2), 30)
        await eventually(lambda: vtn.opts.get("evt-s") == ["optIn"], 60)
        plan = await until(
            lambda: call(port, "/api/v1/plan", viewer),
            lambda p: "dr openadr2b:evt-s rev 0" in p["target_sources"],
        )
        assert 5000.0 in plan["target_cap_w"]
        # The same intake and store as the HTTP channel.
        events = await call(port, "/api/v1/dr-events", utility)
        assert [(e["id"], e["value"]) for e in events["events"]] == [("openadr2b:evt-s", 5000.0)]

        vtn.modify("evt-s", 3.0)
        plan = await until(
            lambda: call(port, "/api/v1/plan", viewer),
            lambda p: "dr openadr2b:evt-s rev 1" in p["target_sources"],
        )
        assert 3000.0 in plan["target_cap_w"] and 5000.0 not in plan["target_cap_w"]
        # M&V goes to the VTN as the VEN's report, the metered figures too.
        await eventually(lambda: vtn.reports.get("dr_delivered_metered_wh") is not None, 60)
        assert "dr_asked_wh" in vtn.reports and "dr_shortfall_wh" in vtn.reports
        found = await until(
            lambda: call(port, "/api/v1/dr-events/openadr2b:evt-s", utility),
            lambda f: f["measured"] is not None,
        )
        meter = found["measured"]["baseline"]["meter"]
        assert meter["energy_wh"] is None and "history too short" in meter["reason"]
    finally:
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=30)

    # Killed: the VTN sends the event again to the restarted VEN, which holds it.
    [event] = [e for e in vtn.server.events["ven-1"] if e.event_descriptor.event_id == "evt-s"]
    vtn.server.event_callbacks["evt-s"] = (event, vtn.opt)
    service = await start(config, port, log)
    try:
        events = await call(port, "/api/v1/dr-events", utility)
        assert [(e["id"], e["modification_number"]) for e in events["events"]] == [
            ("openadr2b:evt-s", 1)
        ]
        await eventually(lambda: len(vtn.opts["evt-s"]) >= 3, 60)
        assert set(vtn.opts["evt-s"]) == {"optIn"}
        await until(
            lambda: call(port, "/api/v1/plan", viewer),
            lambda p: "dr openadr2b:evt-s rev 1" in p["target_sources"],
        )

        vtn.server.cancel_event("ven-1", "evt-s")
        await until(
            lambda: call(port, "/api/v1/plan", viewer),
            lambda p: not any("evt-s" in s for s in p["target_sources"]),
        )
        found = await call(port, "/api/v1/dr-events/openadr2b:evt-s", utility)
        assert found["status"] == "cancelled"
    finally:
        await asyncio.to_thread(service.stop)
    assert service.process.returncode == 0, log.read_text()[-3000:]
    assert "OpenADR 2.0b: VEN v2g-fleet follows" in log.read_text()


async def until(read: Any, check: Any, timeout_s: float = 60.0) -> Any:
    """``await read()`` until ``check`` holds for what it returned."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await read()
        if check(value):
            return value
        assert asyncio.get_running_loop().time() < deadline, f"not reached: {value}"
        await asyncio.sleep(0.3)


async def test_an_unreachable_vtn_shows_in_health_with_the_reason_and_the_service_runs(
    tmp_path: Path,
) -> None:
    port, closed = free_port(), free_port()
    config = site(
        tmp_path,
        port,
        f'version = "2.0b"\nvtn_url = "http://127.0.0.1:{closed}/OpenADR2/Simple/2.0b"\n'
        'ven_name = "v2g-fleet"\n',
    )
    viewer = token(config, "viewer")
    service = await start(config, port, tmp_path / "serve.log")
    try:
        health = await until(
            lambda: call(port, "/api/v1/health", viewer),
            lambda h: h["channels"]["openadr2b"]["last_error"],
        )
    finally:
        await asyncio.to_thread(service.stop)
    link = health["channels"]["openadr2b"]
    assert health["status"] == "degraded" and link["connected"] is False
    assert f"no answer from http://127.0.0.1:{closed}" in link["last_error"]
    assert any("not registered with the VTN" in note for note in health["notes"])


def test_a_bad_openadr_table_stops_the_start_with_every_problem(tmp_path: Path) -> None:
    config = site(
        tmp_path,
        free_port(),
        'version = "2.0b"\nvtn_url = "ftp://vtn"\ncert_path = "missing.pem"\n'
        'poll_interval_s = -1\nclient_id = "x"\n',
    )
    done = v2g("serve", "--config", str(config))
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    for problem in (
        "openadr.vtn_url: must be an http(s) URL",
        "openadr.ven_name: missing",
        f"openadr.cert_path: cannot read {tmp_path / 'missing.pem'}",
        "cert_path and key_path go together",
        "openadr.poll_interval_s: must lie in (0, 3600]",
        "openadr.client_id: not a key of OpenADR 2.0b",
    ):
        assert problem in line, line
    assert not (tmp_path / "data").exists()  # nothing started, not even the store


async def test_openadr3_events_by_webhook_and_poll_reach_the_plan_survive_sigkill_and_stop(
    tmp_path: Path,
) -> None:
    vtn3 = Vtn3(free_port())
    await vtn3.up()
    port, hook = free_port(), free_port()
    (tmp_path / "secret.txt").write_text(CLIENT_SECRET + "\n")
    config = site(
        tmp_path,
        port,
        f'version = "3.0.1"\nvtn_url = "{vtn3.base_url}"\nclient_id = "{CLIENT_ID}"\n'
        'client_secret_file = "secret.txt"\npoll_interval_s = 1\n'
        f'webhook = true\nwebhook_listen = "127.0.0.1:{hook}"\n',
    )
    utility, viewer = token(config, "utility"), token(config, "viewer")
    log = tmp_path / "serve.log"

    async def link() -> dict[str, Any]:
        found = await call(port, "/api/v1/health", viewer)
        return dict(found["channels"]["openadr3"])

    def plan_with(part: str) -> Any:
        return until(
            lambda: call(port, "/api/v1/plan", viewer),
            lambda p: any(part in s for s in p["target_sources"]),
        )

    try:
        service = await start(config, port, log)
        try:
            status = await until(link, lambda s: s["connected"])
            assert status["subscriptions"] == ["sub-0"] and status["version"] == "3.0.1"
            event = vtn3.event(
                "e3", "IMPORT_CAPACITY_LIMIT", 4, datetime.now(UTC) + timedelta(seconds=1)
            )
            await vtn3.notify("POST", event)
            assert vtn3.notified[-1][0] == 200, vtn3.notified
            plan = await plan_with("openadr3:e3")
            assert 4000.0 in plan["target_cap_w"]
            await vtn3.notify("PUT", vtn3.modify("e3", 2))
            plan = await until(
                lambda: call(port, "/api/v1/plan", viewer),
                lambda p: 2000.0 in p["target_cap_w"] and 4000.0 not in p["target_cap_w"],
            )
            await eventually(lambda: any(r["eventID"] == "e3" for r in vtn3.reports), 60)
        finally:
            service.process.send_signal(signal.SIGKILL)
            service.process.wait(timeout=30)

        service = await start(config, port, log)
        try:
            events = await call(port, "/api/v1/dr-events", utility)
            assert [(e["id"], e["value"]) for e in events["events"]] == [("openadr3:e3", 2000.0)]
            await plan_with("openadr3:e3")
            # Deleted at the VTN: the poll (or the webhook) stops it.
            del vtn3.events["e3"]
            await vtn3.notify("DELETE", event)
            await until(
                lambda: call(port, "/api/v1/plan", viewer),
                lambda p: not any("e3" in s for s in p["target_sources"]),
            )
            found = await call(port, "/api/v1/dr-events/openadr3:e3", utility)
            assert found["status"] == "cancelled"
            # A VTN that revokes us: health says so, with the VTN's own words.
            vtn3.refuse["programs"] = (403, "client ven-client revoked")
            status = await until(link, lambda s: not s["connected"])
            assert (
                "403" in status["last_error"]
                and "client ven-client revoked" in status["last_error"]
            )
        finally:
            await asyncio.to_thread(service.stop)
        assert service.process.returncode == 0, log.read_text()[-3000:]
    finally:
        await vtn3.down()


OCPP_SITE = (
    SITE_HEAD
    + """metered_mv_interval_s = 1
[ocpp]
listen = "127.0.0.1:{ocpp_port}"
[[charger]]
evse_id = "DE*V2G*E0001"
station_id = "CS-1"
ocpp_evse = 1
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000
[[vehicle]]
ev_id = "EV-1"
v2g_allowed = true
[openadr]
version = "2.0b"
vtn_url = "{vtn_url}"
ven_name = "v2g-fleet"
poll_interval_s = 1
report_sampling_s = 1
"""
)


async def test_a_vehicle_that_ignores_the_vtn_event_is_a_metered_shortfall_at_the_vtn(
    vtn: Vtn,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """The whole chain through ``v2g serve``: an OCPP station's V2G session, an export
    event created at the VTN, the discharge setpoint in the station's mailbox; the car
    goes on charging at 5 kW and says so in its meter values, so the metered M&V shows
    the shortfall the dispatch-based figure hides, and the VTN hears it."""
    api_port, ocpp_port = free_port(), free_port()
    config = tmp_path / "site.toml"
    config.write_text(
        OCPP_SITE.format(
            data=tmp_path / "data", api_port=api_port, ocpp_port=ocpp_port, vtn_url=vtn.url
        )
    )
    created = v2g("station", "create", "--id", "CS-1", "--config", str(config))
    assert created.returncode == 0, created.stderr
    utility, viewer = token(config, "utility"), token(config, "viewer")
    service = await start(config, api_port, tmp_path / "serve.log")
    evse = "DE*V2G*E0001"
    mailbox = SetpointMailbox()
    station = OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{ocpp_port}/ocpp",
        station_id="CS-1",
        password_file=tmp_path / "unused",
        version=OcppVersion.V21,
        queue_dir=tmp_path / "queue",
        evses={evse: 1},
    )
    link = ChargingStationLink(station, created.stdout.strip(), {evse: mailbox}, SystemClock())
    running = asyncio.create_task(link.run())
    try:
        now = datetime.now(UTC)
        report_v2x_session(link, evse, "EV-1", now)
        await until(
            lambda: call(api_port, "/api/v1/fleet", viewer),
            lambda f: any(v["evse_id"] == evse for v in f["vehicles"]),
        )
        # The VEN opts in only to what the latest plan's envelope can deliver: wait
        # until it holds the car's discharge (its limits came over OCPP).
        await until(
            lambda: call(api_port, "/api/v1/envelope", viewer),
            lambda e: e["lower_w"] and e["lower_w"][0] <= -5000,
        )

        vtn.event("evt-m", -5.0, datetime.now(UTC) + timedelta(seconds=1), 30)
        await eventually(lambda: vtn.opts.get("evt-m") == ["optIn"], 60)
        setpoint = await _discharge(mailbox)
        assert setpoint.power_w <= -4000
        # The car ignores it: 5 kW charging, reported every half second for 8 s.
        for _ in range(16):
            link(PowerMeasured(evse, "sess-1", datetime.now(UTC), 5000.0, 60.0))
            await asyncio.sleep(0.5)

        found = await until(
            lambda: call(api_port, "/api/v1/dr-events/openadr2b:evt-m", utility),
            lambda f: (f["measured"] or {}).get("metered_wh", 0) > 5,
        )
        measured, dispatched = found["measured"], found["measurement"]
        print(f"dispatched delivered_wh {dispatched['delivered_wh']}; measured {measured}")
        assert dispatched["delivered_wh"] > 0  # the setpoints say it discharged
        assert measured["delivered_metered_wh"] < 0  # the meter says it charged
        assert measured["shortfall_wh"] > measured["asked_wh"] > 0
        await eventually(lambda: max(vtn.reports.get("dr_shortfall_wh") or [0]) > 0, 60)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await asyncio.to_thread(service.stop)


async def _discharge(mailbox: SetpointMailbox) -> Any:
    async def read() -> Any:
        return mailbox.read()

    return await until(read, lambda s: s is not None and s.power_w < 0)


async def test_an_event_for_tomorrow_is_judged_by_the_day_ahead_offer_which_the_vtn_receives(
    vtn: Vtn,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """A fresh store: no history, nobody plugged in. An export event tomorrow lies past
    the plan's horizon; the P90 offer expects nothing then, so the VEN opts out and
    says how sure; the VTN's request for the offer report gets 24 hourly values."""
    port = free_port()
    config = site(
        tmp_path,
        port,
        f'version = "2.0b"\nvtn_url = "{vtn.url}"\nven_name = "v2g-fleet"\n'
        "poll_interval_s = 1\nreport_sampling_s = 1\noffer_confidence = 0.8\n",
    )
    service = await start(config, port, tmp_path / "serve.log")
    try:
        tomorrow = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
        vtn.event("evt-t", -5.0, tomorrow + timedelta(days=1), 60)
        await eventually(lambda: vtn.opts.get("evt-t"), 60)
        assert vtn.opts["evt-t"] == ["optOut"]
        # Each answer about the event (a VEN that polls again may answer it again) says why.
        said = [x for x in vtn.created_event_xml if "evt-t" in x]
        assert said
        reason = "80% confidence (P80 day-ahead offer: only the 0 vehicles plugged in now"
        assert all(reason in x for x in said)
        await eventually(lambda: len(vtn.report_points.get("offer_export_p90_w", [])) >= 24, 60)
        assert all(v == 0.0 for _, v in vtn.report_points["offer_export_p90_w"][-24:])
    finally:
        service.stop()
