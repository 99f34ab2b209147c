import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.limits import Limit, PowerBounds

powers = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_limit_rejects_nan_and_missing_source():
    with pytest.raises(ValueError, match="finite"):
        Limit(math.nan, "EV")
    with pytest.raises(ValueError, match="source"):
        Limit(1000.0, "")


def test_clamp_names_the_bound_that_stopped_the_request():
    bounds = PowerBounds(Limit(-3000, "EV max discharge"), Limit(7400, "feeder line 12"))
    assert bounds.clamp(Limit(11000, "dr evt-1")) == Limit(7400, "feeder line 12")
    assert bounds.clamp(Limit(-5000, "dr evt-1")) == Limit(-3000, "EV max discharge")
    assert bounds.clamp(Limit(1000, "price")) == Limit(1000, "price")


def test_intersection_keeps_the_tighter_end_with_its_source():
    evse = PowerBounds.symmetric(11000, 11000, "EVSE")
    ev = PowerBounds(Limit(-4000, "EV discharge"), Limit(22000, "EV charge"))
    both = evse.intersect(ev)
    assert both.lower == Limit(-4000, "EV discharge")
    assert both.upper == Limit(11000, "EVSE")


def test_disjoint_ranges_collapse_onto_the_newer_constraint():
    charge_only = PowerBounds(Limit(1000, "EV min charge"), Limit(5000, "EV"))
    discharge_only = PowerBounds(Limit(-5000, "dr"), Limit(-1000, "dr"))
    assert charge_only.intersect(discharge_only) == PowerBounds(
        Limit(-1000, "dr"), Limit(-1000, "dr")
    )


@given(powers, powers, powers)
def test_clamped_power_always_lies_within_bounds(a, b, wanted):
    lower, upper = sorted((a, b))
    bounds = PowerBounds(Limit(lower, "low"), Limit(upper, "high"))
    assert lower <= bounds.clamp(Limit(wanted, "want")).power_w <= upper


def test_symmetric_bounds_without_discharge_do_not_allow_discharge():
    assert not PowerBounds.symmetric(7000, 0, "EVSE").allows_discharge
    assert PowerBounds.symmetric(7000, 0, "EVSE").lower.power_w == 0.0
