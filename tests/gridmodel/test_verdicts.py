"""Verdicts on reference networks, for cases that can be checked by hand."""

import math
from dataclasses import replace

import pytest

from gridmodel import AcGridCheck, GridLimits, Injection, InvalidInjection


def test_the_cigre_lv_base_case_is_within_limits(cigre_lv):
    verdict = AcGridCheck(cigre_lv).check([])
    assert verdict.ok
    assert 0.9 < verdict.min_vm_pu < 1.0
    assert verdict.max_trafo_loading_percent == pytest.approx(85.3, abs=0.1)


def test_charging_at_the_end_of_a_long_lv_feeder_breaks_the_lower_voltage_band(cigre_lv):
    bus = cigre_lv.resolve_bus("Bus R18")
    verdict = AcGridCheck(cigre_lv).check([Injection(bus, 60_000)])
    assert not verdict.ok
    assert [(v.element, v.metric) for v in verdict.violations] == [
        ("bus 19 'Bus R18'", "vm_pu_min")
    ]


def test_discharging_at_the_end_of_a_long_lv_feeder_breaks_the_upper_voltage_band(cigre_lv):
    bus = cigre_lv.resolve_bus("Bus R18")
    verdict = AcGridCheck(cigre_lv).check([Injection(bus, -400_000)])
    elements = {(v.element, v.metric) for v in verdict.violations}
    assert ("bus 19 'Bus R18'", "vm_pu_max") in elements


def test_a_large_load_next_to_the_transformer_overloads_it(cigre_lv):
    bus = cigre_lv.resolve_bus("Bus R1")
    verdict = AcGridCheck(cigre_lv).check([Injection(bus, 150_000)])
    trafo = [v for v in verdict.violations if v.element.startswith("trafo")]
    assert [(v.element, v.metric) for v in trafo] == [("trafo 0 'Trafo R0-R1'", "loading_percent")]
    assert trafo[0].value > 100 and trafo[0].limit == 100


def test_a_load_beyond_a_cable_rating_overloads_that_line(kerber):
    limits = GridLimits(vm_pu_min=0.5, vm_pu_max=1.5, max_trafo_loading_percent=1000)
    bus = kerber.resolve_bus("loadbus_1_1")
    verdict = AcGridCheck(kerber, limits).check([Injection(bus, 120_000)])
    lines = [v.element for v in verdict.violations if v.element.startswith("line")]
    assert "line 1 'branchout_line_1_1'" in lines


def test_limits_are_configurable_per_check(cigre_lv):
    strict = replace(cigre_lv.limits, max_trafo_loading_percent=80.0)
    verdict = AcGridCheck(cigre_lv, strict).check([])
    assert {v.metric for v in verdict.violations} == {"loading_percent"}
    assert all(v.element.startswith("trafo") and v.limit == 80.0 for v in verdict.violations)
    assert "trafo 0 'Trafo R0-R1'" in {v.element for v in verdict.violations}


def test_a_power_flow_that_does_not_converge_is_a_violation(cigre_lv):
    bus = cigre_lv.resolve_bus("Bus R18")
    check = AcGridCheck(cigre_lv)
    verdict = check.check([Injection(bus, 50_000_000)])
    assert not verdict.ok and not verdict.converged
    assert verdict.violations[0].metric == "converged"
    assert check.check([]).ok  # the next check starts cold again and succeeds


def test_checks_never_touch_the_callers_network(cigre_lv):
    before = cigre_lv.net.load.p_mw.sum(), len(cigre_lv.net.load)
    AcGridCheck(cigre_lv).check([Injection(cigre_lv.resolve_bus("Bus R11"), 30_000)])
    assert (cigre_lv.net.load.p_mw.sum(), len(cigre_lv.net.load)) == before
    assert cigre_lv.net.res_bus.empty


def test_nan_and_unknown_buses_are_refused(cigre_lv):
    with pytest.raises(InvalidInjection, match="not finite"):
        Injection(3, math.nan)
    with pytest.raises(InvalidInjection, match="no bus 999"):
        AcGridCheck(cigre_lv).check([Injection(999, 1000)])


def test_the_check_warms_up_when_built_not_on_the_first_request(cigre_lv):
    """Trap: pandapower's first solve on a net builds its lookups (and numba would JIT
    for seconds); the check solves the base case at construction instead."""
    check = AcGridCheck(cigre_lv)
    assert check.base_verdict.ok
    assert check.flow.net.res_bus.vm_pu.notna().all()
