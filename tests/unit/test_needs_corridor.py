"""A vehicle's corridor from what it actually says (issue 19): -20 energy requests, else
SoC and capacity, else the site's stated default. Properties over any combination of
present and absent requests, SoC or not."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from v2g.envelope import Horizon, flexibility
from v2g.fleet import (
    ENERGY_REQUESTS,
    SITE_DEFAULT,
    SOC_AND_CAPACITY,
    Charger,
    Corridor,
    DefaultNeeds,
    Fleet,
    FleetMember,
    OwnerPolicy,
    Site,
    corridor_of,
)
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionStarted,
    TransferLimits,
)

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
SLOT_S = 900.0
SLOTS = 96
TOL = 1e-6


@dataclass(frozen=True)
class Said:
    """What one generated vehicle said, and its owner's terms."""

    member: FleetMember
    needs: ChargeNeeds | None
    default: DefaultNeeds


def _member(
    needs: ChargeNeeds | None,
    *,
    policy: OwnerPolicy,
    default: DefaultNeeds,
    max_charge_w: float,
    max_discharge_w: float,
    plugged_in_at: datetime = T0,
) -> FleetMember:
    charger = Charger("evse-1", 1, max_charge_w, max_discharge_w)
    site = Site.of([charger], policies={"ev": policy}, default_needs=default)
    discharge = DischargeLimits(max_discharge_w) if max_discharge_w > 0 else None
    events: list[object] = [
        SessionStarted("evse-1", "s1", plugged_in_at, "ev", "iso20-dc-bpt"),
        LimitsReported(
            "evse-1", "s1", plugged_in_at, TransferLimits(max_charge_w, discharge=discharge)
        ),
    ]
    if needs is not None:
        events.append(NeedsReported("evse-1", "s1", needs.reported_at, needs))
    fleet, errors = Fleet().apply_all(events, site)  # type: ignore[arg-type]
    assert not errors
    return fleet.members["evse-1"]


energies = st.floats(-40_000, 60_000, allow_nan=False)
powers = st.just(0.0) | st.floats(1.0, 150_000)  # W; 0 = cannot (no denormal powers)


@st.composite
def vehicles(draw: st.DrawFn) -> Said:
    """Any combination of present and absent -20 requests, V2X requests, SoC, capacity
    and departure; any owner terms."""
    requests = sorted(draw(st.lists(energies, min_size=3, max_size=3)))
    present = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    minimum, target, maximum = (r if p else None for r, p in zip(requests, present, strict=True))
    v2x = sorted(draw(st.lists(energies, min_size=2, max_size=2)))
    v2x_present = draw(st.lists(st.booleans(), min_size=2, max_size=2))
    v2x_min, v2x_max = (v if p else None for v, p in zip(v2x, v2x_present, strict=True))
    capacity = draw(st.none() | st.floats(10_000, 120_000))
    soc = draw(st.none() | st.floats(0, 100))
    target_soc = draw(st.none() | st.floats(0, 100))
    if capacity is not None:
        bound = capacity
        minimum, target, maximum = (
            None if v is None else max(min(v, bound), -bound) for v in (minimum, target, maximum)
        )
    departure_h = draw(st.none() | st.floats(0.0, 30.0))
    needs = draw(st.none() | st.just(True))
    said = (
        ChargeNeeds(
            reported_at=T0,
            departure=None if departure_h is None else T0 + timedelta(hours=departure_h),
            soc_percent=soc,
            target_soc_percent=target_soc,
            battery_capacity_wh=capacity,
            min_energy_wh=minimum,
            target_energy_wh=target,
            max_energy_wh=maximum,
            min_v2x_energy_wh=v2x_min,
            max_v2x_energy_wh=v2x_max,
        )
        if needs
        else None
    )
    policy = OwnerPolicy(
        v2g_allowed=draw(st.booleans()),
        reserve_soc_percent=draw(st.floats(0, 100)),
        accept_shortfall=draw(st.booleans()),
    )
    default = DefaultNeeds(
        energy_wh=draw(st.floats(0, 50_000)), dwell_s=draw(st.floats(600, 20 * 3600))
    )
    member = _member(
        said,
        policy=policy,
        default=default,
        max_charge_w=draw(powers),
        max_discharge_w=draw(powers),
    )
    return Said(member, said, default)


def _horizon() -> Horizon:
    return Horizon(T0, SLOT_S, SLOTS)


@settings(max_examples=300, deadline=None)
@given(vehicles())
def test_the_corridor_is_never_empty_and_ends_at_departure(said: Said):
    flex = flexibility(said.member, _horizon())
    assert np.all(flex.floor_wh <= flex.ceiling_wh + TOL)
    assert np.all(flex.lower_w <= flex.upper_w + TOL)
    corridor = corridor_of(said.member, T0)
    dwell_s = (corridor.departure - T0).total_seconds()
    after = np.arange(SLOTS) * SLOT_S >= dwell_s  # slots starting at or after departure
    assert not np.any(flex.upper_w[after]) and not np.any(flex.lower_w[after])
    assert flex.dwell_s == pytest.approx(dwell_s)
    if said.needs is None or said.needs.departure is None:
        assert flex.guessed is not None and "departure" in flex.guessed


@settings(max_examples=300, deadline=None)
@given(vehicles())
def test_never_below_the_ev_minimum_nor_past_its_v2x_limits(said: Said):
    needs = said.needs
    if needs is None or not needs.has_energy_requests:
        return
    flex = flexibility(said.member, _horizon())
    assert flex.needs_source == ENERGY_REQUESTS
    floor = flex.floor_wh - flex.energy_wh  # energy from now, end of each slot
    ceiling = flex.ceiling_wh - flex.energy_wh
    # At departure (the end of its slot, if within the horizon) the floor holds the
    # minimum, as far as the dwell and power allow (it never asks the impossible).
    if needs.min_energy_wh is not None and flex.dwell_s <= SLOTS * SLOT_S:
        leaves = max(math.ceil(flex.dwell_s / SLOT_S) - 1, 0)
        assert floor[leaves] >= min(needs.min_energy_wh, ceiling[leaves]) - TOL
    if needs.min_v2x_energy_wh is not None:
        assert np.all(floor >= min(needs.min_v2x_energy_wh, 0.0) - TOL)
    if needs.max_energy_wh is not None:
        assert np.all(ceiling <= max(needs.max_energy_wh, 0.0) + TOL)
    if needs.max_v2x_energy_wh is not None:
        # The vehicle's own wish (target, else maximum, else minimum) may lie above its
        # V2X maximum; beyond both, never.
        stated = (needs.target_energy_wh, needs.max_energy_wh, needs.min_energy_wh)
        wish = next((v for v in stated if v is not None), -math.inf)
        assert np.all(ceiling <= max(needs.max_v2x_energy_wh, wish, 0.0) + TOL)


@settings(max_examples=300, deadline=None)
@given(vehicles())
def test_a_vehicle_that_says_nothing_gets_the_site_default(said: Said):
    needs = said.needs
    if needs is not None and (
        needs.has_energy_requests
        or (needs.battery_capacity_wh is not None and needs.soc_percent is not None)
    ):
        return
    flex = flexibility(said.member, _horizon())
    assert flex.needs_source == SITE_DEFAULT
    assert flex.guessed is not None and "site default" in flex.guessed
    assert np.all(flex.lower_w >= 0.0), "guessed needs are never discharged"
    floor = flex.floor_wh - flex.energy_wh
    ceiling = flex.ceiling_wh - flex.energy_wh
    if flex.dwell_s <= SLOTS * SLOT_S:  # the default energy by departure, or all it can
        leaves = max(math.ceil(flex.dwell_s / SLOT_S) - 1, 0)
        expected = min(said.default.energy_wh, ceiling[leaves])
        assert floor[leaves] == pytest.approx(expected, abs=1e-3)
    # Not must-run: unless the default needs all of it, the first slot has room below
    # full power.
    low, high = flex.slot0_range_w(_horizon().slot_h)
    if flex.laxity_s > SLOT_S:
        assert low < high or high == 0.0


@settings(max_examples=200, deadline=None)
@given(vehicles())
def test_soc_and_capacity_are_used_where_no_requests_exist(said: Said):
    needs = said.needs
    if (
        needs is None
        or needs.has_energy_requests
        or needs.battery_capacity_wh is None
        or needs.soc_percent is None
    ):
        return
    flex = flexibility(said.member, _horizon())
    assert flex.needs_source == SOC_AND_CAPACITY
    assert flex.energy_wh == pytest.approx(needs.battery_capacity_wh * needs.soc_percent / 100)
    reserve = needs.battery_capacity_wh * said.member.policy.reserve_soc_percent / 100
    assert np.all(flex.floor_wh >= min(reserve, flex.energy_wh) - TOL)


def test_the_issue_vehicle_may_discharge_to_its_v2x_minimum_and_leaves_with_its_minimum():
    """Issue 19's vehicle: departure in 2 h, min 5 / target 20 / max 40 kWh, V2X -10 to
    40 kWh, 50 kW discharge, owner allows V2G and accepts shortfall, no SoC."""
    needs = ChargeNeeds(
        reported_at=T0,
        departure=T0 + timedelta(hours=2),
        min_energy_wh=5_000,
        target_energy_wh=20_000,
        max_energy_wh=40_000,
        min_v2x_energy_wh=-10_000,
        max_v2x_energy_wh=40_000,
    )
    member = _member(
        needs,
        policy=OwnerPolicy(v2g_allowed=True, accept_shortfall=True),
        default=DefaultNeeds(),
        max_charge_w=11_000,
        max_discharge_w=50_000,
    )
    flex = flexibility(member, _horizon())
    assert flex.needs_source == ENERGY_REQUESTS and flex.guessed is None
    assert flex.energy_wh == 0.0
    assert flex.lower_w[0] == pytest.approx(-50_000)
    assert np.all(flex.floor_wh >= -10_000 - TOL)
    assert flex.floor_wh[7] == pytest.approx(5_000)  # the departure slot's end
    assert not np.any(flex.upper_w[8:])
    low, _ = flex.slot0_range_w(0.25)
    assert low < 0, "free to discharge now: the minimum is still reachable"


def test_requests_count_from_their_report_and_move_with_delivered_energy():
    """Energy delivered since the report moves the corridor: a vehicle 4 kWh into its
    5 kWh minimum needs 1 kWh more, not 5."""
    needs = ChargeNeeds(
        reported_at=T0,
        departure=T0 + timedelta(hours=4),
        min_energy_wh=5_000,
        target_energy_wh=5_000,
        max_energy_wh=10_000,
    )
    member = _member(
        needs,
        policy=OwnerPolicy(),
        default=DefaultNeeds(),
        max_charge_w=8_000,
        max_discharge_w=0,
    )
    site = Site.of([member.charger])
    fleet = Fleet({"evse-1": member})
    for minutes, power in ((0, 8_000.0), (30, 0.0)):
        at = T0 + timedelta(minutes=minutes)
        fleet = fleet.apply(PowerMeasured("evse-1", "s1", at, power), site)
    moved = fleet.members["evse-1"]
    assert moved.delivered_wh == pytest.approx(4_000)
    corridor = corridor_of(moved, T0 + timedelta(minutes=30))
    assert corridor.need_wh == pytest.approx(1_000)
    assert corridor.high_wh == pytest.approx(6_000)


def test_a_vehicle_past_its_guessed_departure_is_expected_within_the_overstay():
    plugged = T0 - timedelta(hours=10)
    member = _member(
        None,
        policy=OwnerPolicy(),
        default=DefaultNeeds(energy_wh=5_000, dwell_s=3600, overstay_s=1800),
        max_charge_w=11_000,
        max_discharge_w=0,
        plugged_in_at=plugged,
    )
    corridor = corridor_of(member, T0)
    assert corridor.departure == T0 + timedelta(seconds=1800)
    assert corridor.guessed is not None and "still here" in corridor.guessed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"low_wh": 1.0}, "must contain now"),
        ({"high_wh": -1.0}, "must contain now"),
        ({"need_wh": 50.0, "high_wh": 10.0}, "outside"),
        ({"energy_wh": math.nan}, "finite"),
        ({"departure": datetime(2026, 7, 1, 20)}, "timezone-aware"),  # noqa: DTZ001
    ],
)
def test_an_inconsistent_corridor_is_refused(change: dict[str, object], message: str):
    good = Corridor(ENERGY_REQUESTS, 0.0, -1.0, 0.0, 1.0, T0)
    with pytest.raises(ValueError, match=message):
        replace(good, **change)  # type: ignore[arg-type]
    assert good.need_wh == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"energy_wh": -1.0},
        {"energy_wh": math.inf},
        {"dwell_s": 0.0},
        {"overstay_s": math.nan},
    ],
)
def test_a_bad_site_default_is_refused(kwargs: dict[str, float]):
    with pytest.raises(ValueError, match="default"):
        DefaultNeeds(**kwargs)


def test_v2x_requests_out_of_order_are_refused():
    from v2g.session import InvalidSessionData

    with pytest.raises(InvalidSessionData, match="V2X"):
        ChargeNeeds(reported_at=T0, min_v2x_energy_wh=5_000, max_v2x_energy_wh=-5_000)


def test_energy_given_back_since_the_report_raises_what_is_still_needed():
    """Discharging for a DR event moves the requests the other way: 2 kWh given back on
    a 5 kWh minimum means 7 kWh still to come, and the V2X minimum is 2 kWh closer."""
    needs = ChargeNeeds(
        reported_at=T0,
        departure=T0 + timedelta(hours=4),
        min_energy_wh=5_000,
        target_energy_wh=8_000,
        max_energy_wh=10_000,
        min_v2x_energy_wh=-4_000,
        max_v2x_energy_wh=10_000,
    )
    policy = OwnerPolicy(v2g_allowed=True, accept_shortfall=True)
    member = _member(
        needs, policy=policy, default=DefaultNeeds(), max_charge_w=8_000, max_discharge_w=8_000
    )
    site = Site.of([member.charger], policies={"ev": policy})
    fleet = Fleet({"evse-1": member})
    for minutes, power in ((0, -8_000.0), (15, 0.0)):
        at = T0 + timedelta(minutes=minutes)
        fleet = fleet.apply(PowerMeasured("evse-1", "s1", at, power), site)
    corridor = corridor_of(fleet.members["evse-1"], T0 + timedelta(minutes=15))
    assert corridor.need_wh == pytest.approx(7_000)  # the minimum: owner accepts shortfall
    assert corridor.low_wh == pytest.approx(-2_000)
    assert corridor.guessed is None and corridor.source == ENERGY_REQUESTS
