"""Plan and verify: never a plan that fails the AC check, and more than the naive loop."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmodel import AcGridCheck, Injection
from gridmodel.planning import naive_scale_back, plan_and_verify


@pytest.fixture(scope="module")
def lv(cigre_lv):
    check = AcGridCheck(cigre_lv)
    return check, cigre_lv.connection_buses()


def test_a_charging_ask_beyond_the_feeder_is_cut_to_what_the_ac_check_allows(lv):
    check, buses = lv
    upper = np.full(len(buses), 33_000.0)
    plan = plan_and_verify(check, buses, -upper / 3, upper, target_w=400_000)
    assert plan.verdict.ok
    assert check.check([Injection(b, w) for b, w in zip(buses, plan.power_w, strict=True)]).ok
    assert np.all(plan.power_w <= upper + 1e-6) and np.all(plan.power_w >= -upper / 3 - 1e-6)
    naive = naive_scale_back(check, buses, -upper / 3, upper, target_w=400_000)
    assert naive.verdict.ok
    assert plan.total_w > 2 * naive.total_w > 0


def test_an_ask_the_feeder_can_carry_is_met_exactly(lv):
    check, buses = lv
    upper = np.full(len(buses), 11_000.0)
    plan = plan_and_verify(check, buses, -upper, upper, target_w=-120_000)
    assert plan.verdict.ok
    assert plan.total_w == pytest.approx(-120_000, rel=1e-3)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.floats(-600_000, 600_000),
    st.lists(st.floats(0, 50_000), min_size=15, max_size=15),
    st.lists(st.floats(0, 50_000), min_size=15, max_size=15),
)
def test_no_plan_ever_fails_the_ac_check(cigre_lv, target_w, charge_w, discharge_w):
    check = AcGridCheck(cigre_lv)
    buses = cigre_lv.connection_buses()
    upper, lower = np.array(charge_w), -np.array(discharge_w)
    plan = plan_and_verify(check, buses, lower, upper, target_w)
    injections = [Injection(b, w) for b, w in zip(buses, plan.power_w, strict=True)]
    assert plan.verdict.ok and AcGridCheck(cigre_lv).check(injections).ok
    assert np.all(plan.power_w <= upper + 1e-6) and np.all(plan.power_w >= lower - 1e-6)
    assert abs(plan.total_w) <= abs(target_w) + 1.0
    assert plan.total_w * target_w >= 0


def test_a_plan_out_of_time_keeps_the_last_safe_plan(lv):
    """Fail closed: when the time budget runs out, the kept (AC-feasible) plan stands."""
    check, buses = lv
    upper = np.full(len(buses), 33_000.0)
    plan = plan_and_verify(check, buses, -upper, upper, 400_000, time_limit_s=0.0)
    assert plan.verdict.ok
    assert plan.total_w == 0.0 and plan.rounds == 0


def test_buses_group_by_low_voltage_grid(cigre_lv):
    from gridmodel.planning import substation_groups

    buses = cigre_lv.connection_buses()
    groups = substation_groups(cigre_lv, buses)
    names = {cigre_lv.bus_name(b)[4]: g for b, g in zip(buses, groups, strict=True)}
    assert len(set(groups)) == 3  # the residential, industrial and commercial grids
    assert names["R"] != names["I"] != names["C"] != names["R"]


def test_a_plan_by_substation_is_verified_and_beats_the_naive_loop(lv):
    from gridmodel.planning import substation_groups

    check, buses = lv
    upper = np.full(len(buses), 33_000.0)
    groups = substation_groups(check.network, buses)
    plan = plan_and_verify(check, buses, -upper, upper, 400_000, groups=groups)
    naive = naive_scale_back(check, buses, -upper, upper, 400_000)
    assert plan.verdict.ok
    assert check.check([Injection(b, w) for b, w in zip(buses, plan.power_w, strict=True)]).ok
    assert np.all(plan.power_w >= 0) and np.all(plan.power_w <= upper + 1e-6)
    assert plan.total_w > naive.total_w
