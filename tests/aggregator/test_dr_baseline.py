"""The baseline of a DR event is the plan without the event, for every kind of event:
M&V (delivered = baseline - fleet power) and the VTN's baseline_w telemetry are
measured against it (issue 22: export events had none, so both fell back to the fleet
power)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
SETTINGS = PlannerSettings(slot_s=900, slots=8, setpoint_valid_s=600)


def fleet(cars: int) -> FleetBuilder:
    builder = FleetBuilder(T0)
    for i in range(cars):
        builder.vehicle(
            f"car{i}",
            soc_percent=40 + 5 * i,
            departure=T0 + timedelta(hours=6),
            max_charge_w=11_000,
            max_discharge_w=11_000,
            v2g=True,
        )
    return builder


@pytest.mark.parametrize(
    ("kind", "value_w"),
    [
        ("export_w", 20_000),
        ("shed_w", 5_000),
        ("import_limit_w", 10_000),
    ],
)
def test_the_baseline_is_the_plan_without_the_event_for_every_kind(kind, value_w):
    builder = fleet(6)
    event = DemandResponseEvent("e1", T0, T0 + timedelta(hours=1), kind, value_w)
    book, _ = EventBook().accept(event)
    grid = CapacityGrid(1e6)
    with_event = plan_dispatch(PlanInputs(T0, builder.fleet, book), grid, SETTINGS)
    without = plan_dispatch(PlanInputs(T0, builder.fleet, EventBook()), grid, SETTINGS)
    assert with_event.baseline_w is not None
    np.testing.assert_allclose(with_event.baseline_w, without.fleet_power_w, rtol=1e-3, atol=50.0)


def test_a_grouped_fleet_reports_an_export_against_a_rough_plan_without_it():
    """A fleet planned per bus group (large fleets) gets its export baseline from an
    LP rougher in time, not a second full solve: slot 0, what the VTN's telemetry
    reads, is the plan without the event, and never the fleet's discharge."""
    zoned = PlannerSettings(slot_s=900, slots=8, setpoint_valid_s=600, max_groups=4, max_zones=2)
    builder = FleetBuilder(T0)
    for i in range(12):
        builder.vehicle(
            f"car{i}",
            soc_percent=30 + 4 * i,
            departure=T0 + timedelta(hours=4 + i % 5),
            max_charge_w=11_000,
            max_discharge_w=11_000,
            v2g=True,
            bus=i % 6 + 1,
        )
    event = DemandResponseEvent("e1", T0, T0 + timedelta(hours=1), "export_w", 40_000)
    book, _ = EventBook().accept(event)
    grid = CapacityGrid(1e6)
    with_event = plan_dispatch(PlanInputs(T0, builder.fleet, book), grid, zoned)
    without = plan_dispatch(PlanInputs(T0, builder.fleet, EventBook()), grid, zoned)
    assert with_event.strategy == "lp (2 zones)"
    assert with_event.power_now_w == pytest.approx(-40_000, abs=50)
    assert with_event.baseline_w is not None
    assert with_event.baseline_w[0] == pytest.approx(without.fleet_power_w[0], rel=0.02)


def test_an_export_that_has_not_started_needs_no_baseline():
    event = DemandResponseEvent(
        "e1", T0 + timedelta(hours=1), T0 + timedelta(hours=2), "export_w", 20_000
    )
    book, _ = EventBook().accept(event)
    plan = plan_dispatch(PlanInputs(T0, fleet(6).fleet, book), CapacityGrid(1e6), SETTINGS)
    assert plan.baseline_w is None
