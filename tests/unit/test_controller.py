"""The EVSE controller answers iso15118 from the mailbox, limits and power stage."""

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from iso15118.secc.controller.evse_data import EVSEDataContext
from iso15118.shared.messages.enums import ControlMode, IsolationLevel, Protocol, ServiceV20

from tests.unit.secc_helpers import SESSION_ID, Rig, ac_bpt_evse, dc_bpt_evse, decimal
from v2g.session import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionStarted,
    Setpoint,
)


@pytest.fixture
def rig(clock, monotonic):
    return Rig(dc_bpt_evse(), clock, monotonic)


def post(rig, power_w, valid_s=300.0, source="aggregator", session_id=SESSION_ID):
    rig.mailbox.post(
        Setpoint.from_source(
            power_w, rig.clock.now() + timedelta(seconds=valid_s), source, session_id
        )
    )


async def dc_loop_target(rig, mode=ControlMode.DYNAMIC):
    params = await rig.controller.get_dc_charge_loop_params_v20(mode, ServiceV20.DC_BPT)
    charge = decimal(params.evse_maximum_charge_power)
    return charge if charge > 0 else -decimal(params.evse_max_discharge_power)


async def test_bpt_dynamic_target_follows_the_mailbox_and_its_changes(rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    assert await dc_loop_target(rig) == -5000
    post(rig, 2500)
    assert await dc_loop_target(rig) == 2500


async def test_target_is_clamped_to_the_evs_discharge_limit(rig):
    await rig.enter("SupportedAppProtocol")
    rig.report_dc_bpt_ev(max_discharge_w=3000)
    await rig.controller.send_rated_limits()
    post(rig, -9000)
    assert await dc_loop_target(rig) == -3000
    assert rig.controller.applied_power().source == "EV max discharge"


async def test_target_is_clamped_to_the_evses_rated_limits(clock, monotonic):
    rig = Rig(dc_bpt_evse(max_discharge_power_w=4000), clock, monotonic)
    await rig.start_dc_bpt_session()
    post(rig, -9000)
    assert await dc_loop_target(rig) == -4000
    assert "rated discharge" in rig.controller.applied_power().source


async def test_stale_setpoint_falls_back_without_discharging(rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, valid_s=10)
    assert await dc_loop_target(rig) == -5000
    rig.clock.advance(10)
    assert await dc_loop_target(rig) == 3000  # the EVSE's configured fallback, >= 0


async def test_non_bpt_session_never_discharges(rig):
    await rig.enter("SupportedAppProtocol", service=ServiceV20.DC)
    rig.report_dc_bpt_ev()
    await rig.controller.send_rated_limits()
    post(rig, -5000)
    params = await rig.controller.get_dc_charge_loop_params_v20(ControlMode.DYNAMIC, ServiceV20.DC)
    assert decimal(params.evse_maximum_charge_power) == 0


async def test_two_controllers_never_share_setpoints_or_limits(clock, monotonic):
    """Trap in iso15118 0.31.2: mutable default arguments shared limit objects, so a
    setpoint for EVSE A appeared on EVSE B."""
    a = Rig(dc_bpt_evse(evse_id="A"), clock, monotonic)
    b = Rig(dc_bpt_evse(evse_id="B"), clock, monotonic)
    default_context = EVSEDataContext()
    assert a.controller.evse_data_context.session_limits is not (
        b.controller.evse_data_context.session_limits
    )
    assert a.controller.evse_data_context.rated_limits is not default_context.rated_limits
    a.controller.evse_data_context.session_limits.dc_limits.max_discharge_power = 7777
    assert b.controller.evse_data_context.session_limits.dc_limits.max_discharge_power is None
    await a.start_dc_bpt_session()
    await b.start_dc_bpt_session()
    post(a, -5000)
    assert await dc_loop_target(a) == -5000
    assert await dc_loop_target(b) == 3000


async def test_dc_discovery_replacing_session_limits_does_not_lose_the_setpoint(rig):
    """Trap: -20 DC ChargeParameterDiscovery replaces the session-limits object, so
    values written before it were lost. The controller reads the mailbox instead."""
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    cpd_params = await rig.controller.get_dc_charge_params_v20(ServiceV20.DC_BPT)
    cpd_res = type("CPDRes", (), {"bpt_dc_params": cpd_params, "dc_params": None})()
    rig.controller.evse_data_context.update_dc_charge_parameters_v20(ServiceV20.DC_BPT, cpd_res)
    assert await dc_loop_target(rig) == -5000


async def test_ac_charge_loop_answers_without_any_session_limits_set(clock, monotonic):
    """Trap: the package's AC charge loop crashes with a TypeError when AC session limits
    were never set. The controller computes the target itself."""
    rig = Rig(ac_bpt_evse(), clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.ISO_15118_20_AC, ServiceV20.AC_BPT)
    rig.report_ac_bpt_ev()
    post(rig, -4000)
    for mode in (ControlMode.DYNAMIC, ControlMode.SCHEDULED):
        params = await rig.controller.get_ac_charge_loop_params_v20(mode, ServiceV20.AC_BPT)
        assert decimal(params.evse_target_active_power) == -4000


async def test_bpt_flag_passed_as_precharge_does_not_stop_the_charge_loop(rig):
    """Trap: in the -20 DC charge loop iso15118 passes the BPT flag in the is_precharge
    position. After PowerDelivery the controller runs the charge loop regardless."""
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    await rig.controller.send_charging_command(400.0, 0.0, True)  # PreCharge
    rig.monotonic.advance(1.0)
    assert rig.controller.stage.read().voltage_v == 400.0
    assert rig.controller.stage.read().current_a == 0.0
    await rig.enter("PowerDelivery")
    await rig.controller.send_charging_command(None, None, True)  # BPT flag, not PreCharge
    rig.monotonic.advance(1.0)
    assert rig.controller.stage.read().power_w == pytest.approx(-5000)


async def test_dc_stage_ramps_so_din_precharge_completes(clock, monotonic):
    rig = Rig(dc_bpt_evse(voltage_ramp_v_per_s=1000), clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.DIN_SPEC_70121, None)
    await rig.controller.send_charging_command(380.0, 0.0, is_precharge=True)
    rig.monotonic.advance(0.2)
    assert rig.controller.stage.read().voltage_v == pytest.approx(200.0)
    rig.monotonic.advance(0.2)
    present = await rig.controller.get_evse_present_voltage(Protocol.DIN_SPEC_70121)
    assert decimal(present) == pytest.approx(380.0)


async def test_din_current_demand_caps_current_to_the_setpoint(clock, monotonic):
    rig = Rig(dc_bpt_evse(max_discharge_power_w=0), clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.DIN_SPEC_70121, None)
    rig.report_dc_bpt_ev()
    await rig.controller.send_charging_command(400.0, 0.0, is_precharge=True)
    rig.monotonic.advance(1)
    await rig.enter("PowerDelivery", Protocol.DIN_SPEC_70121, None)
    post(rig, 8000)
    await rig.controller.send_charging_command(400.0, 125.0)
    rig.monotonic.advance(1)
    assert rig.controller.stage.read().current_a == pytest.approx(20.0)
    assert decimal(await rig.controller.get_evse_max_power_limit()) == 8000


async def test_scheduled_mode_offers_the_setpoint_with_discharge_slots(rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, valid_s=1800)
    service = SimpleNamespace(service=ServiceV20.DC_BPT)
    params = await rig.controller.get_schedule_exchange_params(
        service, ControlMode.SCHEDULED, None
    )
    schedule = params.schedule_tuples[0]
    charging = schedule.charging_schedule.power_schedule.schedule_entry_list.entries
    discharging = schedule.discharging_schedule.power_schedule.schedule_entry_list.entries
    assert [(e.duration, decimal(e.power)) for e in discharging] == [(1800, -5000), (1800, 0)]
    assert [(e.duration, decimal(e.power)) for e in charging] == [(1800, 0), (1800, 3000)]


async def test_iso2_schedule_is_charge_only_and_covers_a_day_without_departure(clock, monotonic):
    rig = Rig(dc_bpt_evse(), clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.ISO_15118_2, None, False)
    rig.report_dc_bpt_ev()
    post(rig, -5000, valid_s=600)
    tuples = await rig.controller.get_sa_schedule_list(None, False, None, 0)
    entries = tuples[0].p_max_schedule.schedule_entries
    assert [decimal(e.p_max) for e in entries] == [0.0, 3000.0]
    assert entries[-1].time_interval.start + entries[-1].time_interval.duration == 86400


async def test_session_facts_go_out_as_domain_events(rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    await rig.enter("PowerDelivery")
    await rig.controller.send_charging_command(None, None, True)
    await rig.controller.session_ended("SessionStop", "EV requested stop")
    kinds = [type(e) for e in rig.events]
    assert kinds[:3] == [SessionStarted, LimitsReported, NeedsReported]
    assert PowerMeasured in kinds
    assert kinds[-1] is SessionEnded
    started = rig.events[0]
    assert (started.protocol, started.ev_id, started.session_id) == (
        "iso20-dc-bpt",
        "WMIV1234567890ABCDEX",
        "1A2B3C4D5E6F7081",
    )
    needs = next(e for e in rig.events if isinstance(e, NeedsReported)).needs
    assert (needs.soc_percent, needs.battery_capacity_wh) == (55, 60000)
    assert needs.departure == rig.clock.now() + timedelta(hours=1)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda ctx: setattr(ctx.rated_limits.dc_limits, "max_charge_power", float("nan")),
        lambda ctx: setattr(ctx, "total_battery_capacity", -60000),
        lambda ctx: setattr(ctx, "departure_time", -3600),
        lambda ctx: setattr(ctx.rated_limits.dc_limits, "max_discharge_power", 9e12),
        lambda ctx: ctx.__dict__.update(min_v2x_energy_request=5e3, max_v2x_energy_request=-5e3),
        lambda ctx: setattr(ctx, "min_energy_request", float("inf")),
    ],
    ids=[
        "nan-limit",
        "negative-capacity",
        "departure-in-past",
        "absurd-discharge",
        "v2x-requests-swapped",
        "infinite-energy-request",
    ],
)
async def test_absurd_ev_data_gets_a_safe_answer_and_a_clear_log_line(rig, caplog, corrupt):
    await rig.enter("SupportedAppProtocol")
    rig.report_dc_bpt_ev()
    corrupt(rig.controller.ev_data_context)
    post(rig, -5000)
    with caplog.at_level(logging.ERROR):
        await rig.controller.send_rated_limits()
        assert await dc_loop_target(rig) == 0.0
    assert "EV data rejected" in caplog.text
    assert not any(isinstance(e, NeedsReported | LimitsReported) for e in rig.events)
    # Once the EV reports sane data again, the session carries on.
    rig.report_dc_bpt_ev()
    rig.controller.ev_data_context.__dict__.update(
        min_energy_request=None, min_v2x_energy_request=None, max_v2x_energy_request=None
    )
    await rig.controller.send_rated_limits()
    assert await dc_loop_target(rig) == -5000


async def test_a_new_session_starts_from_a_clean_slate(rig):
    await rig.start_dc_bpt_session()
    rig.controller.ev_data_context.total_battery_capacity = -1
    await rig.enter("SupportedAppProtocol")
    assert rig.controller.ev_data_context.total_battery_capacity is None


async def test_services_offer_bpt_only_on_a_bidirectional_evse(clock, monotonic):
    bidirectional = Rig(dc_bpt_evse(), clock, monotonic).controller
    unidirectional = Rig(dc_bpt_evse(max_discharge_power_w=0), clock, monotonic).controller
    assert [s.service_id for s in (await bidirectional.get_energy_service_list()).services] == [
        ServiceV20.DC.id,
        ServiceV20.DC_BPT.id,
    ]
    assert [s.service_id for s in (await unidirectional.get_energy_service_list()).services] == [
        ServiceV20.DC.id
    ]


async def test_preferred_control_mode_is_offered_first(clock, monotonic):
    controller = Rig(
        dc_bpt_evse(control_modes=("scheduled", "dynamic")), clock, monotonic
    ).controller
    sets = (await controller.get_service_parameter_list(ServiceV20.DC_BPT.id)).parameter_sets
    modes = [next(p.int_value for p in s.parameters if p.name == "ControlMode") for s in sets]
    assert modes == [1, 1, 2, 2]  # per mode, one set per DC connector (Extended, Core)


async def test_plug_and_charge_without_pki_is_refused(rig):
    await rig.enter("SupportedAppProtocol")
    response = await rig.controller.is_authorized(certificate_chain=b"\x30\x82")
    assert response.authorization_status.value == "Rejected"


async def test_one_response_carries_one_decision_and_the_next_one_a_new_setpoint(rig):
    await rig.start_dc_bpt_session()
    await rig.enter("PowerDelivery")
    post(rig, -5000)
    await rig.controller.send_charging_command(None, None, True)  # decides this answer
    post(rig, -2000)  # arrives while the answer is being built
    assert await dc_loop_target(rig) == -5000
    await rig.enter("DCChargeLoop")  # the answer went out
    assert await dc_loop_target(rig) == -2000


async def test_energy_requests_are_reread_every_charge_loop_and_reported_as_they_move(rig):
    """-20 dynamic mode: the EV re-sends its energy requests in every ChargeLoopReq and
    they shrink as the battery fills; each loop re-reads them, and a new NeedsReported
    goes out once they moved by NEEDS_ENERGY_STEP_WH (not on every loop)."""
    from v2g.secc.controller import NEEDS_ENERGY_STEP_WH

    await rig.start_dc_bpt_session()
    context = rig.controller.ev_data_context
    context.present_soc = None
    context.total_battery_capacity = None
    context.min_energy_request, context.target_energy_request = 5_000.0, 20_000.0
    context.max_energy_request = 40_000.0
    context.min_v2x_energy_request, context.max_v2x_energy_request = -10_000.0, 40_000.0
    post(rig, 2000)
    await rig.enter("PowerDelivery")

    async def charge_loop() -> None:
        await rig.controller.send_charging_command(None, None)

    await charge_loop()
    reports = [e.needs for e in rig.events if isinstance(e, NeedsReported)]
    assert (reports[-1].min_v2x_energy_wh, reports[-1].max_v2x_energy_wh) == (-10_000, 40_000)
    assert reports[-1].target_energy_wh == 20_000
    count = len(reports)
    context.target_energy_request = 20_000.0 - NEEDS_ENERGY_STEP_WH / 2
    await charge_loop()
    assert len([e for e in rig.events if isinstance(e, NeedsReported)]) == count
    context.target_energy_request = 20_000.0 - NEEDS_ENERGY_STEP_WH
    await charge_loop()
    reports = [e.needs for e in rig.events if isinstance(e, NeedsReported)]
    assert len(reports) == count + 1
    assert reports[-1].target_energy_wh == 20_000.0 - NEEDS_ENERGY_STEP_WH


@pytest.mark.parametrize(
    "protocol", [Protocol.DIN_SPEC_70121, Protocol.ISO_15118_2, Protocol.ISO_15118_20_DC]
)
async def test_stop_ramps_the_output_to_zero_before_cablecheck_and_precharge_run_again(
    clock, monotonic, protocol
):
    """Issue 21: after a Stop (pause) or a -2 Renegotiate at full current, CableCheck
    waits (EVSEProcessing Ongoing) until no current flows, and the PreCharge that
    follows drives no current (IEC 61851-23 CC.5.2: at most 2 A)."""
    rig = Rig(
        dc_bpt_evse(max_charge_power_w=150000, fallback_power_w=100000, max_current_a=200),
        clock,
        monotonic,
    )
    service = ServiceV20.DC if protocol == Protocol.ISO_15118_20_DC else None
    await rig.enter("SupportedAppProtocol", protocol, service)
    rig.report_dc_bpt_ev(max_charge_w=100000)
    await rig.controller.send_charging_command(400.0, 0.0, is_precharge=True)
    rig.monotonic.advance(1)
    await rig.controller.set_hlc_charging(True)
    await rig.enter("PowerDelivery", protocol, service)
    await rig.controller.send_charging_command(400.0, 150.0)
    rig.monotonic.advance(1)
    assert rig.controller.stage.read().current_a == pytest.approx(150.0)

    await rig.controller.set_hlc_charging(False)
    await rig.controller.stop_charger()
    await rig.enter("PowerDelivery", protocol, service)  # the Stop was answered
    assert await rig.controller.get_cable_check_status() is None  # still 150 A
    rig.monotonic.advance(0.1)
    assert await rig.controller.get_cable_check_status() is None  # ramping down
    rig.monotonic.advance(1)
    assert await rig.controller.get_cable_check_status() == IsolationLevel.VALID
    await rig.controller.send_charging_command(400.0, 150.0, is_precharge=True)
    rig.monotonic.advance(1)
    assert rig.controller.stage.read().current_a == 0.0

    await rig.controller.set_hlc_charging(True)
    await rig.enter("PowerDelivery", protocol, service)  # Start again: the loop runs
    await rig.controller.send_charging_command(400.0, 150.0)
    rig.monotonic.advance(1)
    assert rig.controller.stage.read().current_a == pytest.approx(150.0)


async def test_renegotiation_pause_stops_the_stage_and_leaves_the_charge_loop(clock, monotonic):
    rig = Rig(dc_bpt_evse(max_discharge_power_w=0), clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.ISO_15118_2, None)
    rig.report_dc_bpt_ev()
    await rig.enter("PowerDelivery", Protocol.ISO_15118_2, None)
    await rig.controller.send_charging_command(400.0, 20.0)
    rig.monotonic.advance(1)
    rig.controller.pause_energy_transfer("PowerDelivery Renegotiate")
    await rig.enter("PowerDelivery", Protocol.ISO_15118_2, None)  # Renegotiate answered
    rig.monotonic.advance(1)
    await rig.controller.send_charging_command(400.0, 20.0, is_precharge=True)
    rig.monotonic.advance(1)
    assert rig.controller.stage.read().current_a == 0.0


async def test_each_protocol_is_offered_the_configured_transfer_modes(clock, monotonic):
    ac = Rig(ac_bpt_evse(), clock, monotonic).controller
    offered = await ac.get_supported_energy_transfer_modes(Protocol.ISO_15118_2)
    assert [m.value for m in offered] == ["AC_three_phase_core", "AC_single_phase_core"]
    dc = Rig(dc_bpt_evse(energy_transfer_modes=("DC_core", "DC_combo_core")), clock, monotonic)
    offered = await dc.controller.get_supported_energy_transfer_modes(Protocol.DIN_SPEC_70121)
    assert offered[0].value == "DC_core"  # DIN announces the first one only


@pytest.mark.parametrize(
    ("make", "modes", "connectors"),
    [
        (ac_bpt_evse, ("AC_three_phase_core", "AC_single_phase_core"), [2, 1]),
        (ac_bpt_evse, ("AC_single_phase_core",), [1]),
        (dc_bpt_evse, ("DC_core",), [1]),
        (dc_bpt_evse, ("DC_extended", "DC_combo_core"), [2]),
    ],
)
async def test_iso20_offers_one_parameter_set_per_connector(
    clock, monotonic, make, modes, connectors
):
    """ISO 15118-20 service parameter Connector: AC 1 single / 2 three phase, DC 1 Core
    / 2 Extended; the EVCC takes the first set, so the preferred mode comes first."""
    evse = make(energy_transfer_modes=modes, control_modes=("dynamic",))
    controller = Rig(evse, clock, monotonic).controller
    service = ServiceV20.AC if evse.current == "ac" else ServiceV20.DC
    sets = (await controller.get_service_parameter_list(service.id)).parameter_sets
    found = [next(p.int_value for p in s.parameters if p.name == "Connector") for s in sets]
    assert found == connectors
    assert [s.id for s in sets] == list(range(1, len(connectors) + 1))


async def test_single_phase_ac_session_converts_power_on_one_phase(clock, monotonic):
    from iso15118.shared.messages.enums import EnergyTransferModeEnum

    evse = dc_bpt_evse(current="ac", max_current_a=32.0, max_discharge_power_w=0)
    rig = Rig(evse, clock, monotonic)
    await rig.enter("SupportedAppProtocol", Protocol.ISO_15118_2, None, charging_type_is_ac=True)
    rig.controller.ev_data_context.selected_energy_mode = (
        EnergyTransferModeEnum.AC_SINGLE_PHASE_CORE
    )
    rig.report_ac_bpt_ev()
    await rig.enter("PowerDelivery", Protocol.ISO_15118_2, None, charging_type_is_ac=True)
    post(rig, 4600)
    # 4600 W on one phase of 230 V is 20 A (on three phases it would be 6.67 A).
    assert decimal(await rig.controller.get_evse_max_current_limit()) == pytest.approx(20.0)
