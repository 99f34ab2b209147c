"""The dashboard in a real headless Chromium: real data from the API appears, and the
page follows new snapshots live over the WebSocket. Keeps a screenshot in
``test-artifacts/dashboard.png``."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import pytest

from tests.api.cdp import Browser, chromium_binary
from v2g.demand_response import DemandResponseEvent
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.records import (
    ConnectorStatusChanged,
    OcppRecord,
    StationBooted,
    StationConnected,
    StationDisconnected,
)

from .conftest import T0

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


@pytest.fixture
def chromium() -> str:
    binary = chromium_binary()
    if binary is None:
        if os.environ.get("V2G_REQUIRE_CHROMIUM") == "1":
            pytest.fail("V2G_REQUIRE_CHROMIUM=1 but no chromium is installed")
        pytest.skip("no chromium (apt-get install chromium)")
    return binary


async def test_the_dashboard_shows_the_fleet_plan_grid_and_dr_events_live(feeder_api, chromium):
    api = feeder_api
    from datetime import timedelta

    aggregator = api.services.aggregator
    event = DemandResponseEvent("evt-42", T0, T0 + timedelta(hours=2), "export_w", 12_000, 3)
    assert (await api.services.intake.receive(event, "test")).accepted
    for _ in range(3):
        aggregator.clock.advance(300)  # type: ignore[attr-defined]
        await aggregator.cycle()
    plan = await (await api.client.get("/api/v1/plan", headers=api.auth("viewer"))).json()
    setpoint_a = next(s for s in plan["setpoints"] if s["evse_id"] == "evse-a")
    await api.services.stations.record(station_records())

    browser = Browser(chromium)
    try:
        await browser.start()
        url = f"http://127.0.0.1:{api.client.port}/#token={api.tokens['viewer']}"
        await browser.send("Page.navigate", url=url)
        rows = await browser.wait_for("document.querySelectorAll('#fleet tbody tr').length")
        assert rows == 2
        cells = await browser.evaluate(
            "[...document.querySelectorAll('#fleet tbody tr[data-evse=\"evse-a\"] td')]"
            ".map(td => td.textContent)"
        )
        assert cells[0] == "evse-a"
        assert cells[5] == f"{setpoint_a['power_w'] / 1000:.1f}"
        assert cells[6] == setpoint_a["binding_limit"]
        assert (
            await browser.evaluate("document.getElementById('tile-vehicles').textContent") == "2"
        )
        assert await browser.evaluate("document.getElementById('tile-grid').textContent") == "ok"
        assert (
            await browser.evaluate("document.getElementById('tile-target').textContent")
            == "-12.0 kW"
        )
        timeline = await browser.evaluate("document.querySelector('.event').textContent")
        assert timeline == "evt-42"  # short enough for the bar; the figures in the table
        await check_dr_delivered_and_times(browser)
        await check_stations(browser)
        await check_round_ticks(browser)
        usage_rows = await browser.wait_for("document.querySelectorAll('#usage tbody tr').length")
        assert usage_rows == 3  # evse-a, evse-b and the site
        charts = ("plan", "envelope", "loading", "voltage", "buses", "branches", "usage-hours")
        for chart in (f"chart-{name}" for name in charts):
            painted = await browser.evaluate(
                f"(() => {{ const c = document.getElementById('{chart}');"
                "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()"
            )
            assert painted > 500, chart
        # The token left the address bar at once (it stays in this tab's sessionStorage).
        assert "token" not in await browser.evaluate("window.location.href")

        # A new cycle reaches the open page through the WebSocket.
        before = await browser.evaluate("document.getElementById('clock').textContent")
        aggregator.clock.advance(300)  # type: ignore[attr-defined]
        snapshot = await aggregator.cycle()
        await browser.wait_for(
            f"document.getElementById('clock').textContent.startsWith('cycle {snapshot.cycle} ')"
        )
        assert await browser.evaluate("document.getElementById('clock').textContent") != before
        # CS-1 went away; the page shows it at the next snapshot.
        await api.services.stations.record([StationDisconnected("CS-1", T0)])
        aggregator.clock.advance(300)  # type: ignore[attr-defined]
        await aggregator.cycle()
        await browser.wait_for(
            "document.querySelector('#stations tr[data-station=\"CS-1\"] td:nth-child(2)')"
            ".textContent === 'offline'"
        )
        await browser.screenshot(ARTIFACTS / "dashboard.png")
        print(f"dashboard screenshot: {ARTIFACTS / 'dashboard.png'}")
    finally:
        await browser.close()


def station_records() -> list[OcppRecord]:
    """CS-1 online with an occupied and an available connector, CS-2 gone."""
    return [
        StationConnected("CS-1", OcppVersion.V21, T0),
        StationBooted("CS-1", T0, "PowerUp", "v2g", "secc", None, None, ((1, "evse-a"),)),
        ConnectorStatusChanged("CS-1", 1, 1, "Occupied", T0, T0),
        ConnectorStatusChanged("CS-1", 2, 1, "Available", T0, T0),
        StationConnected("CS-2", OcppVersion.V201, T0),
        StationDisconnected("CS-2", T0),
    ]


async def check_stations(browser: Browser) -> None:
    """OCPP stations: online or offline, each connector with its state."""
    await browser.wait_for("document.querySelectorAll('#stations tbody tr').length === 2")
    rows = await browser.evaluate(
        "[...document.querySelectorAll('#stations tbody tr')]"
        ".map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent))"
    )
    assert rows[0][:4] == ["CS-1", "online", "ocpp2.1", "v2g secc"]
    assert rows[0][4] == "evse-a #1 Occupiedevse 2 #1 Available"
    assert rows[1][:2] == ["CS-2", "offline"]


async def check_dr_delivered_and_times(browser: Browser) -> None:
    """The DR table shows asked and delivered energy; times carry date and zone."""
    delivered = await browser.evaluate(
        "[...document.querySelectorAll('#dr-delivered tbody tr td')].map(td => td.textContent)"
    )
    assert delivered[0] == "evt-42 rev 3" and delivered[2] == "export_w 12.0 kW"
    # 12 kW asked over the 10 minutes between the first and the last cycle
    assert delivered[1].endswith(" UTC") and delivered[3] == "2.0"
    assert delivered[5].endswith("%")
    # What the meters saw: measured once the event ran, else a dash.
    assert delivered[7] == "\u2013" or "(short " in delivered[7]
    clock = await browser.evaluate("document.getElementById('clock').textContent")
    assert clock.endswith(" UTC") and "2026-07-01 18:" in clock


async def check_round_ticks(browser: Browser) -> None:
    """Every chart's value axis: evenly spaced ticks in steps of 1, 2, 2.5 or 5 x 10^k."""
    for chart in ("chart-plan", "chart-envelope", "chart-loading", "chart-voltage"):
        ticks = await browser.evaluate(f"document.getElementById('{chart}').dataset.ticks")
        values = [float(t) for t in ticks.split()]
        steps = {round(b - a, 9) for a, b in itertools.pairwise(values)}
        assert len(steps) == 1, (chart, values)
        (step,) = steps
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5), (chart, values)
        assert all(abs(v / step - round(v / step)) < 1e-6 for v in values), (chart, values)
