"""Named scenarios for the planner, told as stories, asserting setpoints and the
limit that shaped each of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.envelope import Horizon, flexibility
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)
HOURLY = PlannerSettings(slot_s=3600, slots=24, setpoint_valid_s=3600)


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def book_of(*events: DemandResponseEvent) -> EventBook:
    book = EventBook()
    for event in events:
        book, outcome = book.accept(event)
        assert outcome.accepted
    return book


def test_two_cars_one_leaving_at_7_and_dr_asking_20_kw_export_at_18():
    """Two V2G cars from 17:00; the 07:00 car still leaves full; DR 18:00-20:00 asks
    for 20 kW of export, which both cars deliver within their reserves."""
    fleet = (
        FleetBuilder(T0)
        .vehicle("early", departure=hours(14), soc_percent=60, max_discharge_w=11_000, v2g=True)
        .vehicle("late", departure=hours(18), soc_percent=70, max_discharge_w=11_000, v2g=True)
        .fleet
    )
    event = DemandResponseEvent("evt-1", hours(1), hours(3), "export_w", 20_000)
    grid = CapacityGrid(capacity_w=100_000)
    plan = plan_dispatch(PlanInputs(T0, fleet, book_of(event)), grid, HOURLY)
    assert plan.fleet_power_w[1] == pytest.approx(-20_000, abs=50)
    assert plan.fleet_power_w[2] == pytest.approx(-20_000, abs=50)
    # Nothing is asked in the current hour: no discharge now.
    assert all(s.power_w >= -1 for s in plan.setpoints.values())

    at_event = plan_dispatch(PlanInputs(hours(1), fleet, book_of(event)), grid, HOURLY)
    assert at_event.power_now_w == pytest.approx(-20_000, abs=50)
    assert {s.binding.source for s in at_event.setpoints.values()} <= {
        "dr evt-1 rev 0",
        "charger evse-early rated",
        "charger evse-late rated",
        "EV at evse-early max discharge",
        "EV at evse-late max discharge",
    }


def test_a_car_that_needs_every_hour_to_reach_its_target_is_not_discharged_for_dr():
    """DR asks for export, but the only car needs full power until departure (33 kWh
    in 3 h at 11 kW): it charges, at the limit that stops it."""
    fleet = (
        FleetBuilder(T0)
        .vehicle(
            "tight",
            departure=hours(3),
            soc_percent=20,
            target_soc_percent=75,
            max_discharge_w=11_000,
            v2g=True,
        )
        .fleet
    )
    event = DemandResponseEvent("evt-2", T0, hours(2), "export_w", 10_000)
    plan = plan_dispatch(PlanInputs(T0, fleet, book_of(event)), CapacityGrid(1e6), HOURLY)
    setpoint = plan.setpoints["evse-tight"]
    assert setpoint.power_w == pytest.approx(11_000)
    assert setpoint.binding.source in ("charger evse-tight rated", "EV at evse-tight max charge")


def test_a_full_transformer_caps_charging_and_the_setpoints_name_it():
    """Three cars want 33 kW; the transformer has 20 kW left above its base load."""
    fleet = (
        FleetBuilder(T0)
        .vehicle("a", bus=1, soc_percent=10, departure=hours(20))
        .vehicle("b", bus=2, soc_percent=10, departure=hours(20))
        .vehicle("c", bus=3, soc_percent=10, departure=hours(20))
        .fleet
    )
    grid = CapacityGrid(capacity_w=50_000, base_load_w=30_000)
    plan = plan_dispatch(PlanInputs(T0, fleet), grid, HOURLY)
    assert plan.power_now_w == pytest.approx(20_000, rel=1e-3)
    assert plan.verdict is not None and plan.verdict.ok
    sources = {s.binding.source for s in plan.setpoints.values() if s.power_w < 10_999}
    assert sources == {"feeder: trafo 0 loading_percent <= 100"}


def test_cheap_night_hours_are_used_first_when_the_departure_allows():
    fleet = FleetBuilder(T0).vehicle("night", soc_percent=50, departure=hours(14)).fleet
    prices = StepCurve.of([(T0, 0.45), (hours(5), 0.10)])
    plan = plan_dispatch(PlanInputs(T0, fleet, prices=prices), CapacityGrid(1e6), HOURLY)
    assert plan.setpoints["evse-night"].power_w == pytest.approx(0, abs=1)
    assert plan.fleet_power_w[5] > 0
    assert "price" in plan.setpoints["evse-night"].binding.source


def test_no_v2g_owner_is_never_discharged_even_for_dr():
    fleet = (
        FleetBuilder(T0)
        .vehicle("private", soc_percent=90, departure=hours(12), max_discharge_w=11_000, v2g=False)
        .fleet
    )
    event = DemandResponseEvent("evt-3", T0, hours(2), "export_w", 10_000)
    plan = plan_dispatch(PlanInputs(T0, fleet, book_of(event)), CapacityGrid(1e6), HOURLY)
    assert plan.setpoints["evse-private"].power_w >= 0


def test_an_import_limit_caps_the_fleet_and_shed_counts_against_the_plan_without_it():
    fleet = (
        FleetBuilder(T0)
        .vehicle("a", soc_percent=10, departure=hours(20))
        .vehicle("b", soc_percent=10, departure=hours(20))
        .fleet
    )
    limit = DemandResponseEvent("cap", T0, hours(1), "import_limit_w", 5_000)
    plan = plan_dispatch(PlanInputs(T0, fleet, book_of(limit)), CapacityGrid(1e6), HOURLY)
    assert plan.power_now_w == pytest.approx(5_000, abs=10)
    assert plan.baseline_w is not None and plan.baseline_w[0] == pytest.approx(22_000, abs=10)

    shed = DemandResponseEvent("shed", T0, hours(1), "shed_w", 7_000)
    plan = plan_dispatch(PlanInputs(T0, fleet, book_of(shed)), CapacityGrid(1e6), HOURLY)
    assert plan.power_now_w == pytest.approx(22_000 - 7_000, abs=10)
    assert plan.target.sources[0] == "dr shed rev 0"


def test_an_unknown_battery_gets_the_site_default_not_full_power_forever():
    """A DIN SPEC 70121 car may never report SoC or capacity: it gets the site's stated
    default (energy by a default dwell, no discharge), not a must-run full-power band,
    and the plan names it as guessed."""
    builder = FleetBuilder(T0).vehicle("din", soc_percent=50)
    fleet = builder.fleet
    member = fleet.members["evse-din"]
    from dataclasses import replace

    from v2g.fleet import Fleet

    unknown = Fleet({"evse-din": replace(member, needs=None, soc_percent=None)})
    plan = plan_dispatch(PlanInputs(T0, unknown), CapacityGrid(1e6), HOURLY)
    assert 0 <= plan.setpoints["evse-din"].power_w <= 11_000
    assert any("evse-din" in n and "site default" in n for n in plan.notes)
    flex = flexibility(unknown.members["evse-din"], Horizon(T0, 3600.0, 24))
    assert flex.needs_source == "site default"
    assert flex.guessed is not None and "evse-din" in flex.guessed
    dwell_slots = 8  # DefaultNeeds().dwell_s = 8 h
    assert not np.any(flex.upper_w[dwell_slots:]) and not np.any(flex.lower_w)
    assert float(np.min(flex.lower_w)) >= 0.0
