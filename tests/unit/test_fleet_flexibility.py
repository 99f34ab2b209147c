"""The fleet's corridors and flexibility as arrays (issues 12 and 24: plan time at
10,000 vehicles) give the same numbers as the per-vehicle reference on random fleets:
corridors (``corridor_of``), slot-0 ranges (``Flexibility.slot0_range_w``) and
envelopes (``fleet_envelope``)."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties import examples
from tests.unit.test_needs_corridor import T0, Said, _member, vehicles
from v2g.envelope import Horizon, envelope_of, fleet_envelope, fleet_flexibility
from v2g.envelope.flexibility import _limits
from v2g.fleet import (
    ENERGY_REQUESTS,
    SITE_DEFAULT,
    Charger,
    DefaultNeeds,
    FleetMember,
    OwnerPolicy,
    corridor_of,
    corridors,
)
from v2g.limits import Limit
from v2g.session import DischargeLimits, TransferLimits

HORIZON = Horizon(T0, 900.0, 96)
fleets = st.lists(vehicles(), min_size=1, max_size=12)


@settings(max_examples=examples(150), deadline=None)
@given(fleets, st.sampled_from([0.0, 0.25, 1 / 12, 1.0]))
def test_slot0_ranges_of_the_fleet_equal_each_vehicles_own(fleet: list[Said], slot_h: float):
    table = fleet_flexibility([s.member for s in fleet], HORIZON)
    lows, highs = table.slot0_ranges_w(slot_h)
    expected = [flex.slot0_range_w(slot_h) for flex in table.vehicles]
    assert list(zip(lows.tolist(), highs.tolist(), strict=True)) == expected


@settings(max_examples=examples(150), deadline=None)
@given(fleets, st.data())
def test_an_envelope_from_the_arrays_equals_the_one_summed_per_vehicle(
    fleet: list[Said], data: st.DataObject
):
    table = fleet_flexibility([s.member for s in fleet], HORIZON)
    rows = data.draw(st.lists(st.integers(0, len(fleet) - 1), unique=True))
    ours = envelope_of(table, np.array(rows, dtype=np.int64), HORIZON)
    reference = fleet_envelope([table.vehicles[i] for i in rows], HORIZON)
    assert ours.as_dict() == reference.as_dict()
    for name in ("lower_w", "upper_w", "min_energy_wh", "max_energy_wh", "reserve_energy_wh"):
        assert np.array_equal(getattr(ours, name), getattr(reference, name)), name


def test_the_arrays_are_the_vehicles_own_rows():
    fleet = fleet_flexibility([], HORIZON)
    assert fleet.vehicles == [] and fleet.lower_w.shape == (0, 96)
    assert envelope_of(fleet, np.zeros(0, dtype=np.int64), HORIZON).vehicles == 0


percents = st.none() | st.just(0.0) | st.floats(0.0, 100.0)


@st.composite
def members(draw: st.DrawFn) -> FleetMember:
    """A generated vehicle, also with a minimum and maximum SoC (0 % included), a SoC
    measured since its report and energy delivered since."""
    member = draw(vehicles()).member
    if member.needs is not None:
        member = replace(
            member,
            needs=replace(member.needs, min_soc_percent=draw(percents)),
            soc_percent=draw(percents),
        )
        member = replace(member, needs=replace(member.needs, max_soc_percent=draw(percents)))
    delivered = draw(st.floats(-30_000.0, 30_000.0))
    return replace(member, delivered_wh=member.needs_delivered_wh + delivered)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(members(), min_size=1, max_size=12), st.floats(-2.0, 30.0))
def test_the_corridors_of_a_fleet_equal_each_vehicles_own(
    members: list[FleetMember], hours: float
):
    """``corridors`` (arrays) against ``corridor_of`` (one vehicle, the reference), for
    every source, with energy delivered since the report and any ``now``."""
    now = T0 + timedelta(hours=hours)
    found = corridors(members, now)
    assert len(found) == len(members)
    for i, member in enumerate(members):
        assert found.at(i) == corridor_of(member, now)


def test_a_member_copied_with_a_change_equals_dataclasses_replace_for_every_field():
    """``FleetMember._but`` (the fast copy the fold uses) forgets no field."""
    member = _member(
        None,
        policy=OwnerPolicy(),
        default=DefaultNeeds(),
        max_charge_w=11_000.0,
        max_discharge_w=0.0,
    )
    marker = object()
    for name in (f.name for f in fields(FleetMember)):
        assert member._but(**{name: marker}) == replace(member, **{name: marker})
    assert member._but() == member


watts = st.sampled_from([0.0, 3_700.0, 7_400.0, 11_000.0, 22_000.0, 50_000.0])


@settings(max_examples=examples(300), deadline=None)
@given(
    members(),
    watts,
    watts,
    st.none() | st.tuples(watts, st.none() | watts),
    st.booleans(),
    st.sampled_from([ENERGY_REQUESTS, SITE_DEFAULT]),
)
def test_power_limits_equal_the_members_power_bounds(
    member: FleetMember,
    charge_w: float,
    discharge_w: float,
    ev: tuple[float, float | None] | None,
    allowed: bool,
    source: str,
):
    """The flexibility's power range (plain numbers) against ``power_bounds()`` and the
    no-discharge-when-guessed rule (Limit objects, the reference), sources included."""
    member = replace(
        member,
        charger=Charger(member.evse_id, member.charger.bus, charge_w, discharge_w),
        ev_limits=None
        if ev is None
        else TransferLimits(ev[0], discharge=None if ev[1] is None else DischargeLimits(ev[1])),
    )
    bounds = member.power_bounds()
    lower = bounds.lower
    if lower.power_w < 0 and not allowed:
        lower = Limit(0.0, f"{member.evse_id}: needs unknown ({source}), no discharge")
    expected = (lower.power_w, lower.source, bounds.upper.power_w, bounds.upper.source)
    assert _limits(member, allowed, source) == expected
