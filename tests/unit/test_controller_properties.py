"""Safety invariants of the controller's answers, over generated setpoints and limits."""

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from iso15118.shared.messages.enums import ControlMode, Protocol, ServiceV20

from tests.properties import examples
from tests.unit.secc_helpers import SESSION_ID, Rig, ac_bpt_evse, dc_bpt_evse, decimal
from v2g.session import Setpoint
from v2g.testing import FakeClock, FakeMonotonic

power = st.floats(min_value=-60_000, max_value=60_000, allow_nan=False)
magnitude = st.floats(min_value=0, max_value=60_000, allow_nan=False)
T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def answer(evse, service, ev_charge_w, ev_discharge_w, setpoint_w, age_s) -> float:
    async def run() -> float:
        rig = Rig(evse, FakeClock(T0), FakeMonotonic())
        ac = service in (ServiceV20.AC, ServiceV20.AC_BPT)
        protocol = Protocol.ISO_15118_20_AC if ac else Protocol.ISO_15118_20_DC
        await rig.enter("SupportedAppProtocol", protocol, service)
        if ac:
            rig.report_ac_bpt_ev(ev_charge_w, ev_discharge_w)
        else:
            rig.report_dc_bpt_ev(ev_charge_w, ev_discharge_w)
        await rig.controller.send_rated_limits()
        rig.mailbox.post(
            Setpoint.from_source(setpoint_w, T0 + timedelta(seconds=60), "test", SESSION_ID)
        )
        rig.clock.advance(age_s)
        if ac:
            params = await rig.controller.get_ac_charge_loop_params_v20(
                ControlMode.DYNAMIC, service
            )
            return decimal(params.evse_target_active_power)
        params = await rig.controller.get_dc_charge_loop_params_v20(ControlMode.DYNAMIC, service)
        charge = decimal(params.evse_maximum_charge_power)
        if charge > 0 or service == ServiceV20.DC:
            return charge
        return -decimal(params.evse_max_discharge_power)

    return asyncio.run(run())


@settings(max_examples=examples(150), deadline=None)
@given(
    service=st.sampled_from([ServiceV20.AC, ServiceV20.AC_BPT, ServiceV20.DC, ServiceV20.DC_BPT]),
    rated_charge_w=st.floats(1000, 50_000),
    rated_discharge_w=magnitude,
    ev_charge_w=st.floats(1, 60_000),
    ev_discharge_w=magnitude,
    setpoint_w=power,
    age_s=st.integers(0, 120),
)
def test_no_answer_exceeds_ev_or_evse_limits_and_stale_or_unidirectional_never_discharges(
    service, rated_charge_w, rated_discharge_w, ev_charge_w, ev_discharge_w, setpoint_w, age_s
):
    build = ac_bpt_evse if service in (ServiceV20.AC, ServiceV20.AC_BPT) else dc_bpt_evse
    evse = build(max_charge_power_w=rated_charge_w, max_discharge_power_w=rated_discharge_w)
    target_w = answer(evse, service, ev_charge_w, ev_discharge_w, setpoint_w, age_s)
    tolerance_w = 1e-9 * max(abs(target_w), 1.0)  # float error only: encoding truncates
    assert target_w <= min(rated_charge_w, ev_charge_w) + tolerance_w
    assert target_w >= -min(rated_discharge_w, ev_discharge_w) - tolerance_w
    bidirectional = service in (ServiceV20.AC_BPT, ServiceV20.DC_BPT)
    if not bidirectional or age_s >= 60:
        assert target_w >= 0
