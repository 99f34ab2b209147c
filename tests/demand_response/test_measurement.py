"""M&V arithmetic: energy asked and delivered against the baseline (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.measurement import observe, start

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_an_export_event_delivered_in_full_counts_its_discharge_energy():
    event = DemandResponseEvent("e", T0, T0 + 2 * H, "export_w", 10_000)
    m = observe(start(event), event, T0, -10_000, None)
    m = observe(m, event, T0 + H, -10_000, None)
    m = observe(m, event, T0 + 3 * H, 0, None)  # the cycle after the end: clipped at end
    assert m.asked_wh == pytest.approx(20_000)
    assert m.delivered_wh == pytest.approx(20_000)
    assert m.delivery_percent == pytest.approx(100)


def test_a_shed_event_is_measured_against_the_baseline():
    event = DemandResponseEvent("s", T0, T0 + H, "shed_w", 4_000)
    # The fleet would have charged at 10 kW; it charges at 7 kW: 3 of 4 kW shed.
    m = observe(start(event), event, T0, 7_000, 10_000)
    m = observe(m, event, T0 + H, 7_000, 10_000)
    assert m.asked_wh == pytest.approx(4_000)
    assert m.delivered_wh == pytest.approx(3_000)
    assert m.delivery_percent == pytest.approx(75)


def test_an_import_limit_asks_only_what_the_baseline_exceeded_it_by():
    event = DemandResponseEvent("i", T0, T0 + H, "import_limit_w", 6_000)
    m = observe(start(event), event, T0, 6_000, 10_000)
    m = observe(m, event, T0 + H / 2, 5_000, 5_000)  # baseline now under the cap
    m = observe(m, event, T0 + H, 5_000, 5_000)
    assert m.asked_wh == pytest.approx(2_000)
    assert m.delivered_wh == pytest.approx(2_000)


def test_cycles_before_the_event_count_nothing():
    event = DemandResponseEvent("e", T0 + H, T0 + 2 * H, "export_w", 10_000)
    m = observe(start(event), event, T0, 0, None)
    m = observe(m, event, T0 + H / 2, 0, None)
    assert m.asked_wh == 0 and m.delivery_percent is None
