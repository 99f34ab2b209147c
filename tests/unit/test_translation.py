"""Translation between ISO 15118 wire data and domain types."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iso15118.shared.messages.enums import Protocol, ServiceV20

from tests.conftest import T0
from v2g.secc.controller import din_evse_id
from v2g.secc.translation import (
    AcGrid,
    DcPowerWindow,
    ev_limits,
    ev_needs,
    fresh_ev_data_context,
    protocol_label,
    target_power_w,
    to_rational,
)
from v2g.session import InvalidSessionData

GRID = AcGrid(nominal_voltage_v=230.0, phases=3)


@given(st.floats(min_value=-3e6, max_value=3e6, allow_nan=False))
def test_rational_numbers_keep_power_within_a_tenth_of_a_percent_or_centiwatt(power_w):
    value = to_rational(power_w).get_decimal_value()
    assert abs(value - power_w) <= max(abs(power_w) * 1e-3, 0.01)
    assert (value < 0) == (power_w < 0 and value != 0)


def test_rational_rejects_nan():
    with pytest.raises(ValueError, match="RationalNumber"):
        to_rational(math.nan)


@pytest.mark.parametrize(
    ("protocol", "service", "is_ac", "label"),
    [
        (Protocol.DIN_SPEC_70121, None, None, "din-dc"),
        (Protocol.ISO_15118_2, None, True, "iso2-ac"),
        (Protocol.ISO_15118_2, None, False, "iso2-dc"),
        (Protocol.ISO_15118_20_AC, ServiceV20.AC_BPT, None, "iso20-ac-bpt"),
        (Protocol.ISO_15118_20_DC, ServiceV20.DC_BPT, None, "iso20-dc-bpt"),
        (Protocol.ISO_15118_20_DC, None, None, "iso20-dc"),
    ],
)
def test_protocol_labels_match_the_loopback_names(protocol, service, is_ac, label):
    assert protocol_label(protocol, service, is_ac) == label


def test_ev_data_contexts_do_not_share_limit_objects():
    """Trap in iso15118 0.31.2: EVDataContext() defaults share mutable limit objects."""
    first, second = fresh_ev_data_context(), fresh_ev_data_context()
    assert first.rated_limits is not second.rated_limits
    assert first.session_limits.dc_limits is not second.session_limits.dc_limits
    first.session_limits.ac_limits.max_charge_power = 1234
    assert second.session_limits.ac_limits.max_charge_power is None


def test_iso2_ac_limits_turn_per_phase_current_into_power():
    context = fresh_ev_data_context()
    context.rated_limits.ac_limits.max_charge_current = 16.0
    context.rated_limits.ac_limits.max_charge_power = 0.0  # -2 AC carries no power
    limits = ev_limits(context, "ac", bidirectional=False, ac_grid=GRID)
    assert limits.max_charge_power_w == pytest.approx(16 * 230 * 3)
    assert limits.discharge is None


def test_dc_session_limits_override_discovery_limits_and_discharge_needs_bpt():
    context = fresh_ev_data_context()
    context.rated_limits.dc_limits.max_charge_power = 50000
    context.rated_limits.dc_limits.max_discharge_power = 20000
    context.session_limits.dc_limits.max_charge_power = 4000
    assert ev_limits(context, "dc", bidirectional=True, ac_grid=GRID).max_charge_power_w == 4000
    assert ev_limits(context, "dc", True, GRID).max_discharge_power_w == 20000
    assert ev_limits(context, "dc", False, GRID).discharge is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda c: setattr(c.rated_limits.dc_limits, "max_charge_power", math.nan), "finite"),
        (lambda c: setattr(c.rated_limits.dc_limits, "max_charge_power", -50000), "within"),
        (lambda c: setattr(c.rated_limits.dc_limits, "max_discharge_power", -7000), "magnitudes"),
    ],
)
def test_absurd_ev_limits_are_rejected_at_the_boundary(setup, message):
    context = fresh_ev_data_context()
    context.rated_limits.dc_limits.max_charge_power = 50000
    setup(context)
    with pytest.raises(InvalidSessionData, match=message):
        ev_limits(context, "dc", bidirectional=True, ac_grid=GRID)


def test_ev_without_any_charge_limit_is_rejected():
    with pytest.raises(InvalidSessionData, match="no charge power"):
        ev_limits(fresh_ev_data_context(), "dc", bidirectional=False, ac_grid=GRID)


def test_needs_carry_departure_as_an_aware_time_and_reject_the_past():
    context = fresh_ev_data_context()
    context.departure_time, context.present_soc, context.total_battery_capacity = 7200, 40, 60000
    needs = ev_needs(context, T0)
    assert needs.departure is not None
    assert (needs.departure - T0).total_seconds() == 7200
    context.departure_time = -10
    with pytest.raises(InvalidSessionData, match="past"):
        ev_needs(context, T0)
    context.departure_time, context.total_battery_capacity = 7200, -60000
    with pytest.raises(InvalidSessionData, match="battery_capacity_wh"):
        ev_needs(context, T0)


def test_a_departure_0_s_from_now_means_not_set_and_v2x_requests_come_through():
    """-2 EVs send DepartureTime 0 for "not set"; -20 BPT V2X requests reach the needs."""
    context = fresh_ev_data_context()
    context.departure_time = 0
    context.min_v2x_energy_request, context.max_v2x_energy_request = -10_000.0, 40_000.0
    needs = ev_needs(context, T0)
    assert needs.departure is None
    assert (needs.min_v2x_energy_wh, needs.max_v2x_energy_wh) == (-10_000.0, 40_000.0)


@pytest.mark.parametrize("power_w", [7000.0, 0.0, -5000.0])
def test_dc_window_expresses_one_signed_target(power_w):
    window = DcPowerWindow.around(power_w)
    assert window.target_power_w == power_w
    assert min(window.max_charge_power_w, window.max_discharge_power_w) == 0.0


def test_target_power_is_read_from_every_protocols_charge_loop_response():
    rational = {"Exponent": 3, "Value": -5}
    assert (
        target_power_w({"BPT_Dynamic_AC_CLResControlMode": {"EVSETargetActivePower": rational}})
        == -5000
    )
    dc = {
        "BPT_Dynamic_DC_CLResControlMode": {
            "EVSEMaximumChargePower": {"Exponent": 0, "Value": 0},
            "EVSEMaximumDischargePower": {"Exponent": 0, "Value": 5000},
        }
    }
    assert target_power_w(dc) == -5000
    assert (
        target_power_w({"EVSEMaximumPowerLimit": {"Multiplier": 1, "Value": 700, "Unit": "W"}})
        == 7000
    )
    assert (
        target_power_w({"EVSEMaxCurrent": {"Multiplier": 0, "Value": 10, "Unit": "A"}}, GRID)
        == 6900
    )
    assert target_power_w({"ResponseCode": "OK"}) is None


def test_din_evse_id_follows_din_spec_91286_or_reports_none():
    assert din_evse_id("49*89*6360") == "49A89A6360"
    assert din_evse_id("DE*V2G*E0001") == "00"
