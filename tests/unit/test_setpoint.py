"""Setpoints from the mailbox: clamping, staleness and the never-discharge fallback."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import T0
from v2g.limits import Limit, PowerBounds
from v2g.session import Setpoint, power_to_apply, schedule_from_setpoint

BIDIRECTIONAL = PowerBounds.symmetric(11000, 11000, "EVSE rated")


def test_fresh_setpoint_is_applied_with_its_own_source():
    setpoint = Setpoint.from_source(-5000, T0 + timedelta(minutes=5), "dr evt-42 rev 3")
    applied = power_to_apply(setpoint, T0, BIDIRECTIONAL, Limit(0, "fallback"))
    assert applied == Limit(-5000, "dr evt-42 rev 3")


def test_setpoint_beyond_the_limits_is_clamped_and_the_limit_binds():
    ev = PowerBounds(Limit(-3000, "EV max discharge"), Limit(7000, "EV max charge"))
    setpoint = Setpoint.from_source(-5000, T0 + timedelta(minutes=5), "dr evt-1")
    applied = power_to_apply(setpoint, T0, BIDIRECTIONAL.intersect(ev), Limit(0, "fallback"))
    assert applied == Limit(-3000, "EV max discharge")


def test_stale_setpoint_falls_back_and_never_discharges():
    setpoint = Setpoint.from_source(-5000, T0, "dr evt-1")
    applied = power_to_apply(setpoint, T0, BIDIRECTIONAL, Limit(7000, "EVSE fallback"))
    assert applied.power_w == 7000
    assert "stale setpoint" in applied.source


def test_a_negative_fallback_is_floored_at_zero():
    applied = power_to_apply(None, T0, BIDIRECTIONAL, Limit(-2000, "misconfigured fallback"))
    assert applied.power_w == 0.0


def test_setpoint_needs_an_aware_expiry_and_a_finite_power():
    with pytest.raises(ValueError, match="timezone-aware"):
        Setpoint.from_source(1000, T0.replace(tzinfo=None), "x")
    with pytest.raises(ValueError, match="finite"):
        Setpoint.from_source(float("nan"), T0, "x")


powers = st.floats(min_value=-50_000, max_value=50_000, allow_nan=False)


@given(
    setpoint_w=powers,
    fallback_w=powers,
    age_s=st.integers(-600, 600),
    charge_w=st.floats(0, 50_000),
    discharge_w=st.floats(0, 50_000),
)
def test_applied_power_respects_limits_and_a_stale_setpoint_never_discharges(
    setpoint_w, fallback_w, age_s, charge_w, discharge_w
):
    bounds = PowerBounds.symmetric(charge_w, discharge_w, "limits")
    setpoint = Setpoint.from_source(setpoint_w, T0, "aggregator")
    now = T0 + timedelta(seconds=age_s)
    applied = power_to_apply(setpoint, now, bounds, Limit(fallback_w, "fallback"))
    assert -discharge_w <= applied.power_w <= charge_w
    if setpoint.is_stale(now):
        assert applied.power_w >= 0


def test_schedule_holds_the_setpoint_until_it_expires_then_the_fallback():
    setpoint = Setpoint.from_source(-5000, T0 + timedelta(minutes=30), "dr evt-7")
    schedule = schedule_from_setpoint(
        setpoint, T0, BIDIRECTIONAL, Limit(3000, "fallback"), horizon_s=7200
    )
    assert [(s.duration_s, s.power_w) for s in schedule.slots] == [(1800, -5000), (5400, 3000)]
    assert schedule.duration_s == 7200


def test_schedule_without_setpoint_is_one_fallback_slot():
    schedule = schedule_from_setpoint(None, T0, BIDIRECTIONAL, Limit(3000, "fallback"), 86400)
    assert [(s.duration_s, s.power_w) for s in schedule.slots] == [(86400, 3000)]
