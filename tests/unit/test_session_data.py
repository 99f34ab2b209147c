"""EV data that cannot be physically right is rejected by the domain types."""

import math
from datetime import timedelta

import pytest

from tests.conftest import T0
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    InvalidSessionData,
    TransferLimits,
)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"soc_percent": math.nan}, "soc_percent is not a finite"),
        ({"soc_percent": 120.0}, "soc_percent must lie within 0..100"),
        ({"battery_capacity_wh": -60000.0}, "battery_capacity_wh must lie within"),
        ({"battery_capacity_wh": math.inf}, "battery_capacity_wh is not a finite"),
        ({"departure": T0 - timedelta(hours=1)}, "departure .* lies before the report"),
        ({"min_energy_wh": 5000.0, "target_energy_wh": 1000.0}, "min <= target <= max"),
        ({"battery_capacity_wh": 50000.0, "max_energy_wh": 80000.0}, "exceeds the battery"),
    ],
)
def test_absurd_needs_are_rejected(fields, message):
    with pytest.raises(InvalidSessionData, match=message):
        ChargeNeeds(reported_at=T0, **fields)


def test_bidirectional_needs_may_offer_energy_below_zero():
    needs = ChargeNeeds(
        reported_at=T0,
        min_energy_wh=-20000,
        target_energy_wh=40000,
        max_energy_wh=60000,
        battery_capacity_wh=80000,
    )
    assert needs.min_energy_wh == -20000


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TransferLimits(max_charge_power_w=math.nan), "not a finite"),
        (lambda: TransferLimits(max_charge_power_w=-11000), "must lie within"),
        (lambda: TransferLimits(max_charge_power_w=9e9), "must lie within"),
        (lambda: TransferLimits(max_charge_power_w=11000, max_voltage_v=20000), "max_voltage_v"),
        (lambda: TransferLimits(max_charge_power_w=1000, min_charge_power_w=2000), "min_charge"),
        (lambda: DischargeLimits(max_power_w=1000, min_power_w=5000), "min_discharge"),
    ],
)
def test_absurd_limits_are_rejected(build, message):
    with pytest.raises(InvalidSessionData, match=message):
        build()


def test_transfer_limits_become_signed_bounds():
    limits = TransferLimits(11000, discharge=DischargeLimits(7000))
    bounds = limits.bounds("EV")
    assert (bounds.lower.power_w, bounds.upper.power_w) == (-7000, 11000)
    assert TransferLimits(11000).bounds("EV").lower.power_w == 0.0
