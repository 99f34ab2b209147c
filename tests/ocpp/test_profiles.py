"""When a setpoint goes out as a charging profile: beyond the deadband, on a change of
direction, and always before the running profile expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.ocpp.profiles import ProfilePolicy
from v2g.session import Setpoint

NOW = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)


def setpoint(power_w: float, valid_s: float, at: datetime = NOW) -> Setpoint:
    return Setpoint.from_source(power_w, at + timedelta(seconds=valid_s), "plan")


def test_the_first_setpoint_and_a_change_beyond_the_deadband_go_out() -> None:
    policy = ProfilePolicy(deadband_w=100, renew_before_s=300)
    running = setpoint(5000, 1800)
    assert policy.wants_sending(None, running, NOW)
    assert not policy.wants_sending(running, setpoint(5080, 1800), NOW)
    assert policy.wants_sending(running, setpoint(5101, 1800), NOW)


def test_a_change_of_direction_goes_out_however_small() -> None:
    policy = ProfilePolicy(deadband_w=500)
    assert policy.wants_sending(setpoint(50, 1800), setpoint(-50, 1800), NOW)
    assert policy.wants_sending(setpoint(-50, 1800), setpoint(0, 1800), NOW)


def test_an_unchanged_setpoint_renews_a_profile_about_to_expire() -> None:
    policy = ProfilePolicy(deadband_w=100, renew_before_s=300)
    running = setpoint(5000, 1800)
    later = NOW + timedelta(seconds=1600)
    assert policy.wants_sending(running, setpoint(5000, 1800, later), later)
    assert not policy.wants_sending(running, setpoint(5000, 100, later), later)  # no longer


@pytest.mark.parametrize(
    ("deadband_w", "renew_before_s"), [(-1, 300), (100, 0), (float("nan"), 1)]
)
def test_a_policy_that_cannot_work_is_refused(deadband_w: float, renew_before_s: float) -> None:
    with pytest.raises(ValueError):
        ProfilePolicy(deadband_w, renew_before_s)


@given(
    st.lists(st.floats(-11000, 11000, allow_nan=False), min_size=2, max_size=60),
    st.integers(1, 120),
    st.floats(0, 2000),
)
def test_a_station_fed_each_cycle_never_runs_an_expired_profile_nor_one_beyond_the_deadband(
    powers: list[float], interval_s: int, deadband_w: float
) -> None:
    policy = ProfilePolicy(deadband_w=deadband_w, renew_before_s=interval_s + 60)
    running: Setpoint | None = None
    for i, power_w in enumerate(powers):
        now = NOW + timedelta(seconds=i * interval_s)
        assert running is None or not running.is_stale(now)
        new = setpoint(power_w, 900, now)
        if policy.wants_sending(running, new, now):
            running = new
        assert running is not None
        assert abs(running.power_w - power_w) <= deadband_w
        assert (running.power_w < 0) == (power_w < 0)
