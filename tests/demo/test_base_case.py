"""The demo's base load against the feeder's own limits: a feeder that breaks them
before any car plugs in gets its base load scaled down (and the demo says so), or a
refusal when even a light load breaks them."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gridmodel import GridVerdict, Violation
from v2g.demo.base_case import (
    MARGIN,
    SMALLEST_SCALE,
    BaseLoadFit,
    BrokenBaseCase,
    describe,
    fit_base_load,
    fit_notice,
)


def feeder(carries_factor: float):
    """A fake AC check: the base case holds up to ``carries_factor`` of the loads."""
    calls: list[float] = []

    def check(factor: float) -> GridVerdict:
        calls.append(factor)
        if factor <= carries_factor:
            return GridVerdict((), 50.0, 60.0, 0.97, 1.0)
        violation = Violation("trafo 0 'T1'", "loading_percent", 100 * factor, 100.0)
        return GridVerdict((violation,), 50.0, 100 * factor, 0.93, 1.0)

    return check, calls


@given(
    carries=st.floats(min_value=0.0, max_value=3.0, allow_nan=False),
    peak=st.floats(min_value=0.1, max_value=1.5, allow_nan=False),
)
@example(carries=0.6, peak=0.9)  # CIGRE MV and the demo's profile
@example(carries=0.9, peak=0.9)
def test_the_fitted_base_load_always_holds_at_its_peak_or_the_demo_refuses(carries, peak):
    check, _ = feeder(carries)
    try:
        fit = fit_base_load(check, peak)
    except BrokenBaseCase as refused:
        assert carries < peak * SMALLEST_SCALE
        assert "pick another --feeder" in str(refused)
        return
    assert check(peak * fit.scale).ok  # the day starts within the limits
    if peak <= carries:
        assert fit.scale == 1.0 and not fit.scaled  # a feeder that carries it is left alone
    else:
        assert fit.scaled
        # close to the largest scale that holds, less the margin for the fleet
        assert fit.scale >= MARGIN * (carries / peak) - 0.01


def test_the_notice_names_the_feeder_the_broken_limit_and_the_scale():
    check, _ = feeder(0.6)
    fit = fit_base_load(check, 0.9)
    text = fit_notice("cigre-mv", 0.9, fit)
    assert text.startswith("cigre-mv breaks its own limits before any car plugs in")
    assert "trafo 0 'T1' loading_percent 90 against 100" in text
    assert f"scales its base-load profile by {fit.scale:.2f}" in text


def test_a_power_flow_that_does_not_converge_is_described_as_such():
    assert describe(GridVerdict.not_converged("diverged")) == "the power flow does not converge"


@pytest.mark.parametrize("scale", [0.0, -0.5, 1.01, float("nan")])
def test_a_fit_outside_0_to_1_is_refused(scale):
    check, _ = feeder(1.0)
    with pytest.raises(ValueError, match="scale"):
        BaseLoadFit(scale, check(0.5))
