"""A booked car counts in the plan before it comes (issue 15): the plan keeps room on
the feeder for its need, a DR assessment does not promise that room away, it is never
sent a setpoint, and it stops counting once its car plugs in or it is a no-show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent
from v2g.demand_response.assessment import assess
from v2g.dispatch import PlanInputs, PlannerSettings, plan_dispatch
from v2g.fleet import Charger, ExpectedArrival
from v2g.session import SessionStarted
from v2g.simulation import InvalidScenario, parse_scenario, simulate
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
HOURLY = PlannerSettings(slot_s=3600, slots=8, setpoint_valid_s=3600)
#: Charging costs more before 18:00 (a little less in the first hour) than after it.
PRICES = StepCurve(((T0, 0.40), (T0 + HOUR, 0.45), (T0 + 2 * HOUR, 0.12)))
#: Room for one car at full power.
ONE_CAR = CapacityGrid(11_000.0)


def present() -> FleetBuilder:
    """Car "a": 18 kWh to gain by 22:00 at up to 11 kW."""
    return FleetBuilder(T0).vehicle(
        "a", soc_percent=50, target_soc_percent=80, departure=T0 + 6 * HOUR
    )


def booked(**changes: object) -> ExpectedArrival:
    """A booking at evse-b from 18:00: 30 kWh by 21:00 (the feeder's room, all of it)."""
    fields: dict[str, object] = {
        "charger": Charger("evse-b", 1, 11_000.0),
        "arrives_at": T0 + 2 * HOUR,
        "departs_at": T0 + 5 * HOUR,
        "energy_wh": 30_000.0,
        "source": "booking 1a2b3c4d",
        "arrived_since": T0 + 2 * HOUR - timedelta(minutes=15),
        "gone_at": T0 + 2 * HOUR + timedelta(minutes=15),
    }
    return ExpectedArrival(**{**fields, **changes})  # type: ignore[arg-type]


def plan(builder: FleetBuilder, *expected: ExpectedArrival, now: datetime = T0, **inputs: object):
    return plan_dispatch(
        PlanInputs(now, builder.fleet, prices=PRICES, expected=expected, **inputs),  # type: ignore[arg-type]
        ONE_CAR,
        HOURLY,
    )


def test_a_booked_cars_need_makes_the_car_plugged_in_charge_before_the_cheap_hours():
    alone = plan(present())
    with_booking = plan(present(), booked())

    assert alone.setpoints["evse-a"].power_w == 0.0  # it would wait for the cheap hours
    assert with_booking.setpoints["evse-a"].power_w > 5_000.0
    assert set(with_booking.setpoints) == {"evse-a"}  # nothing is sent to a booking
    assert any(
        note.startswith("expected: evse-b (booking 1a2b3c4d) from 18:00, 30.0 kWh by 21:00")
        for note in with_booking.notes
    )
    assert not any("departure" in note for note in with_booking.notes)


def test_a_dr_assessment_does_not_promise_the_room_a_booked_car_needs():
    # Hold the site's draw to 0 W from 18:00 to 21:00: "a" could wait until 21:00,
    # the booked car cannot.
    event = DemandResponseEvent("hold", T0 + 2 * HOUR, T0 + 5 * HOUR, "import_limit_w", 0.0)
    without = plan(present())
    counted = plan(present(), booked())

    assert assess([event], without.envelope, without.fleet_power_w).deliverable
    refused = assess([event], counted.envelope, counted.fleet_power_w)
    assert not refused.deliverable
    assert "must have gained" in refused.reason


def test_the_booking_stops_counting_once_its_car_plugs_in():
    builder = present()
    plugged = T0 + 2 * HOUR - timedelta(minutes=5)
    builder.events.append(SessionStarted("evse-b", "s-b", plugged, "car-b", "iso20"))
    builder.chargers.append(Charger("evse-b", 1, 11_000.0))
    now = T0 + 2 * HOUR
    counted = plan(builder, booked(), now=now)
    assert not any(note.startswith("expected:") for note in counted.notes)


def test_a_car_plugged_in_before_the_booking_began_is_not_the_booked_car():
    builder = present()
    builder.vehicle("b", soc_percent=90, target_soc_percent=90, departure=T0 + HOUR)
    counted = plan(builder, booked())
    assert any(note.startswith("expected: evse-b (booking") for note in counted.notes)


def test_a_no_show_is_forgotten_after_its_grace():
    late = T0 + 2 * HOUR + timedelta(minutes=20)
    forgotten = plan(present(), booked(), now=late)
    assert not any(note.startswith("expected:") for note in forgotten.notes)


def test_a_late_booked_car_counts_from_the_next_slot_not_the_one_under_way():
    now = T0 + 2 * HOUR + timedelta(minutes=5)  # booked from 18:00, nobody there yet
    counted = plan(present(), booked(), now=now)
    note = next(n for n in counted.notes if n.startswith("expected:"))
    assert "from 19:00" in note
    assert counted.envelope.upper_w[0] <= 11_000.0 + 1e-6  # slot 0: car "a" only


def test_a_booked_car_alone_is_planned_without_a_setpoint():
    counted = plan_dispatch(
        PlanInputs(T0, FleetBuilder(T0).fleet, prices=PRICES, expected=(booked(),)),
        ONE_CAR,
        HOURLY,
    )
    assert counted.setpoints == {}
    assert counted.strategy.startswith("lp")
    assert float(np.max(counted.envelope.upper_w)) > 0.0


def test_an_expected_arrival_that_cannot_be_true_is_refused():
    for changes, words in (
        ({"departs_at": T0}, "departs before it arrives"),
        ({"energy_wh": -1.0}, "energy_wh"),
        ({"arrives_at": T0.replace(tzinfo=None)}, "arrives_at"),
    ):
        try:
            replace(booked(), **changes)  # type: ignore[arg-type]
        except ValueError as error:
            assert words in str(error)
        else:
            raise AssertionError(f"accepted {changes}")


def evening(booked: bool) -> dict[str, object]:
    """``v2g simulate``'s scenario of the first test: car "a" there at 16:00, car "b"
    from 18:00 to 21:00 needing the feeder's whole room then, booked or not."""

    def at(hours: float) -> str:
        return (T0 + hours * HOUR).isoformat()

    common = {"bus": 1, "capacity_wh": 60_000, "max_charge_w": 11_000, "soc_target_percent": 80}
    return {
        "start": at(0),
        "end": at(7),
        "step_s": 3600,
        "feeder": {"network": "fake"},
        "vehicles": [
            {"id": "a", "arrival": at(0), "departure": at(6), "soc_arrival_percent": 50, **common},
            {
                "id": "b",
                "arrival": at(2),
                "departure": at(5),
                "soc_arrival_percent": 30,
                "booked": booked,
                **common,
            },
        ],
        "prices": [[at(0), 0.40], [at(1), 0.45], [at(2), 0.12]],
    }


def test_in_a_simulation_a_booking_keeps_both_departures_where_an_unbooked_car_costs_one():
    met = {}
    for booked_b in (False, True):
        log = simulate(parse_scenario(evening(booked_b)), ONE_CAR, int, HOURLY)
        assert all(row.verdict.ok for row in log.grid)
        met[booked_b] = {d.vehicle_id: d.met for d in log.departures}
    assert met[True] == {"a": True, "b": True}
    # Unbooked, "a" waited for the cheap hours and "b" came to need them all.
    assert met[False] == {"a": False, "b": True}


def test_a_scenario_booking_flag_that_is_not_a_bool_is_refused():
    data = evening(True)
    data["vehicles"][1]["booked"] = "yes"  # type: ignore[index]
    with pytest.raises(InvalidScenario, match="booked: must be true or false"):
        parse_scenario(data)
