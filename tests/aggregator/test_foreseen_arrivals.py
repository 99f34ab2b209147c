"""Cars the site's history foresees count in the plan before they come (decision 104):
as many as the forecast expects, in the hours it expects them, each at a charger free
for its stay; the plan keeps room for them, and they never get a setpoint."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.aggregator.test_expected_arrivals import HOURLY, ONE_CAR, PRICES, T0, present
from v2g.aggregator import Aggregator, MailboxLink
from v2g.aggregator import arrivals as arrivals_module
from v2g.aggregator.arrivals import ArrivalLearning
from v2g.aggregator.state import AggregatorState, SetArrivalProfile, fold
from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.dispatch import PlanInputs, plan_dispatch
from v2g.fleet import Charger, ExpectedArrival, Site
from v2g.fleet.foreseen import HOURS_PER_WEEK, ArrivalProfile, foreseen_arrivals
from v2g.forecast.offer import PastSession
from v2g.secc.mailbox import SetpointMailbox
from v2g.simulation import InvalidScenario, parse_scenario
from v2g.testing import FakeClock
from v2g.testing.fleet import FleetBuilder
from v2g.testing.grid import CapacityGrid

HOUR = timedelta(hours=1)
#: T0 is a Wednesday 16:00 UTC.
WEDNESDAY = 2 * 24


def profile(means: dict[int, float], dwell_s: float = 3 * 3600, energy_wh: float = 30_000.0):
    """Arrivals only in the given hours of the week (hour -> mean cars)."""
    return ArrivalProfile(
        tuple(means.get(h, 0.0) for h in range(HOURS_PER_WEEK)),
        (dwell_s,) * HOURS_PER_WEEK,
        (energy_wh,) * HOURS_PER_WEEK,
        "a test",
    )


def site(*evse_ids: str) -> Site:
    return Site.of([Charger(e, 1, 11_000.0) for e in evse_ids])


def test_as_many_cars_as_the_forecast_expects_come_in_the_hours_it_expects_them():
    # 0.6 at 18:00, 0.6 at 19:00, 1.0 at 20:00: 2.2 cars, so two (at 18:00 and 20:00).
    means = {WEDNESDAY + 18: 0.6, WEDNESDAY + 19: 0.6, WEDNESDAY + 20: 1.0}
    cars = foreseen_arrivals(
        profile(means), site("e1", "e2", "e3"), FleetBuilder(T0).fleet, (), T0, T0 + 8 * HOUR
    )
    assert [c.arrives_at for c in cars] == [T0 + 2 * HOUR, T0 + 4 * HOUR]
    assert [c.energy_wh for c in cars] == [30_000.0, 30_000.0]
    assert all(c.departs_at == c.arrives_at + 3 * HOUR for c in cars)
    assert [c.charger.evse_id for c in cars] == ["e1", "e2"]  # in turn over the chargers
    assert cars[0].label == "e1 (forecast Wed 18:00)"


def test_the_hour_under_way_counts_only_its_part_still_to_come():
    means = {WEDNESDAY + 16: 1.0}
    at_quarter_past = foreseen_arrivals(
        profile(means), site("e1"), FleetBuilder(T0).fleet, (), T0 + HOUR / 4, T0 + 4 * HOUR
    )
    at_three_quarters = foreseen_arrivals(
        profile(means), site("e1"), FleetBuilder(T0).fleet, (), T0 + HOUR * 3 / 4, T0 + 4 * HOUR
    )
    assert [c.arrives_at for c in at_quarter_past] == [T0 + HOUR / 4]  # 0.75 of a car
    assert at_three_quarters == ()  # 0.25 of a car


def test_no_car_is_foreseen_at_a_charger_taken_by_a_car_or_a_booking():
    builder = present()  # "a" at evse-a until 22:00
    builder.chargers.append(Charger("evse-b", 1, 11_000.0))
    means = {WEDNESDAY + 18: 1.0, WEDNESDAY + 19: 1.0}
    cars = foreseen_arrivals(profile(means), builder.site, builder.fleet, (), T0, T0 + 8 * HOUR)
    # One free charger, taken 18:00-21:00 by the first car foreseen: no room for the second.
    assert [(c.charger.evse_id, c.arrives_at) for c in cars] == [("evse-b", T0 + 2 * HOUR)]


def test_a_profile_of_the_wrong_length_or_with_negative_means_is_refused():
    with pytest.raises(ValueError, match="168 hours needed"):
        ArrivalProfile((1.0,), (1.0,) * HOURS_PER_WEEK, (1.0,) * HOURS_PER_WEEK, "x")
    with pytest.raises(ValueError, match="finite and >= 0"):
        ArrivalProfile((-1.0,) * HOURS_PER_WEEK, (1.0,) * 168, (1.0,) * 168, "x")


def test_foreseen_cars_make_the_car_plugged_in_charge_before_the_cheap_hours():
    builder = present()
    builder.chargers.append(Charger("evse-b", 1, 11_000.0))
    state = AggregatorState(fleet=builder.fleet, prices=PRICES)
    foreseeing, outcome = fold(
        state, SetArrivalProfile(profile({WEDNESDAY + 18: 1.0})), builder.site
    )
    assert outcome.accepted and "a test" in outcome.reason

    def plan(s: AggregatorState):
        expected = s.expected_at(builder.site, T0, T0 + 8 * HOUR)
        return plan_dispatch(
            PlanInputs(T0, s.fleet, prices=PRICES, expected=expected), ONE_CAR, HOURLY
        )

    assert plan(state).setpoints["evse-a"].power_w == 0.0  # it would wait
    counted = plan(foreseeing)
    assert counted.setpoints["evse-a"].power_w > 5_000.0
    assert set(counted.setpoints) == {"evse-a"}
    assert any(n.startswith("expected: evse-b (forecast Wed 18:00)") for n in counted.notes)


def test_a_car_that_came_at_the_foreseen_charger_is_no_longer_foreseen():
    builder = present()
    builder.vehicle("b", soc_percent=20, target_soc_percent=80, departure=T0 + 5 * HOUR)
    state = AggregatorState(fleet=builder.fleet, arrival_profile=profile({WEDNESDAY + 16: 1.0}))
    assert state.expected_at(builder.site, T0, T0 + 8 * HOUR) == ()


def _history(days: int, start: datetime) -> list[PastSession]:
    """A car every day at 18:00 for 3 h with 20 kWh."""
    return [
        PastSession(start - timedelta(days=d) + 2 * HOUR, 3 * 3600.0, 20_000.0, 11_000.0, 0.0)
        for d in range(1, days + 1)
    ]


def test_a_scenarios_history_foresees_its_evening_car_and_a_short_one_is_refused():
    data = {
        "start": T0.isoformat(),
        "end": (T0 + 8 * HOUR).isoformat(),
        "step_s": 900,
        "feeder": {"network": "cigre-lv"},
        "vehicles": [],
        "history": [
            {
                "arrival": s.arrival.isoformat(),
                "departure": (s.arrival + 3 * HOUR).isoformat(),
                "energy_wh": s.energy_wh,
            }
            for s in _history(28, T0)
        ],
    }
    arrivals = parse_scenario(data).arrivals
    assert arrivals is not None and arrivals.mean_arrivals[WEDNESDAY + 18] > 0.5
    assert arrivals.energy_wh[WEDNESDAY + 18] == pytest.approx(20_000.0, rel=0.05)
    short = {**data, "history": data["history"][:5]}
    with pytest.raises(InvalidScenario, match="history: 5 days with sessions"):
        parse_scenario(json.loads(json.dumps(short)))
    came = {"arrival": T0.isoformat(), "departure": (T0 + HOUR).isoformat(), "energy_wh": 1.0}
    late = {**data, "history": [*data["history"], came]}
    with pytest.raises(InvalidScenario, match="history: every past session must arrive before"):
        parse_scenario(late)


async def test_the_service_learns_what_to_foresee_from_the_stores_sessions(monkeypatch):
    builder = FleetBuilder(T0).vehicle("a", soc_percent=50)
    aggregator = Aggregator(
        builder.site,
        CapacityGrid(11_000.0),
        MailboxLink({"evse-a": SetpointMailbox()}),
        FakeClock(T0),
    )
    found: list[PastSession] = []

    async def history(_records: object, _aggregator: object) -> list[PastSession]:
        return list(found)

    # The store's side (usage records to past sessions) has tests of its own.
    monkeypatch.setattr(arrivals_module, "session_history", history)
    learning = ArrivalLearning(object(), aggregator)  # type: ignore[arg-type]
    try:
        await learning.learn_once()
        assert learning.status.startswith("nothing foreseen: 0 days with sessions")
        assert aggregator.state.arrival_profile is None  # nothing changed
        found.extend(_history(28, T0))
        await learning.learn_once()
        assert learning.status.startswith("arrivals foreseen from 28 sessions on 28 days")
        assert aggregator.state.arrival_profile is not None
    finally:
        aggregator.close()


@pytest.mark.parametrize("firm", [True, False])
def test_a_foreseen_car_gives_way_to_a_dr_event_and_a_booked_one_does_not(firm):
    """An export event from 18:00 to 20:00, and a car expected from 18:00 that needs
    11 kWh by 20:00: booked, its need ranks with the departures (before DR); foreseen
    from history (it has asked nothing yet), it comes after the event."""
    builder = FleetBuilder(T0).vehicle(
        "a", soc_percent=80, departure=T0 + 6 * HOUR, max_discharge_w=11_000, v2g=True
    )
    event = DemandResponseEvent("evening", T0 + 2 * HOUR, T0 + 4 * HOUR, "export_w", 11_000.0)
    book, _ = EventBook().accept(event)
    expected = ExpectedArrival(
        Charger("evse-b", 1, 11_000.0),
        T0 + 2 * HOUR,
        T0 + 4 * HOUR,
        11_000.0,
        "the test",
        T0 + 2 * HOUR,
        T0 + 4 * HOUR,
        firm=firm,
    )
    plan = plan_dispatch(
        PlanInputs(T0, builder.fleet, book, expected=(expected,)), ONE_CAR, HOURLY
    )
    during = plan.fleet_power_w[2:4]
    if firm:
        assert any(p > -10_000.0 for p in during)  # the booked car charges in the event
    else:
        assert all(p < -10_000.0 for p in during)  # the event first


@settings(max_examples=60, deadline=None)
@given(
    means=st.lists(st.floats(0.0, 3.0), min_size=24, max_size=24),
    chargers=st.integers(1, 6),
    plugged=st.integers(0, 3),
    start_minute=st.integers(0, 59),
)
def test_foreseen_cars_never_share_a_charger_or_take_one_still_in_use(
    means, chargers, plugged, start_minute
):
    builder = FleetBuilder(T0)
    for k in range(min(plugged, chargers)):
        builder.vehicle(f"p{k}", departure=T0 + (k + 1) * HOUR)
    builder.chargers += [Charger(f"evse-f{k}", 1, 11_000.0) for k in range(chargers - plugged)]
    # Wednesday from 16:00 on: the means of the next 24 hours of the week.
    hours = {(WEDNESDAY + 16 + h) % HOURS_PER_WEEK: m for h, m in enumerate(means)}
    now = T0 + timedelta(minutes=start_minute)
    cars = foreseen_arrivals(
        profile(hours, dwell_s=2 * 3600), builder.site, builder.fleet, (), now, now + 12 * HOUR
    )
    assert len(cars) <= round(sum(means[:13]) + 0.5)
    for car in cars:
        member = builder.fleet.members.get(car.charger.evse_id)
        assert member is None or member.needs.departure <= car.arrives_at  # type: ignore[union-attr]
        assert now <= car.arrives_at < now + 12 * HOUR
    for a in cars:
        for b in cars:
            if a is not b and a.charger.evse_id == b.charger.evse_id:
                assert a.departs_at <= b.arrives_at or b.departs_at <= a.arrives_at
