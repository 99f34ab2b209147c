"""Every -20 answer the controller builds encodes with the native codec and reads
back unchanged: both services, both control modes, charging and discharging, with the
meter info a vehicle may ask for in every loop (issue 20)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from iso15118.shared.messages.enums import ControlMode, Protocol, ServiceV20
from iso15118.shared.messages.iso15118_20.ac import ACChargeLoopRes
from iso15118.shared.messages.iso15118_20.common_messages import (
    ScheduleExchangeReq,
    ScheduleExchangeRes,
    SelectedEnergyService,
)
from iso15118.shared.messages.iso15118_20.common_types import (
    MessageHeader,
    Processing,
    ResponseCode,
)
from iso15118.shared.messages.iso15118_20.dc import DCChargeLoopRes

from tests.conformance.sweep import prepare
from tests.unit.secc_helpers import SESSION_ID, Rig, ac_bpt_evse, dc_bpt_evse
from v2g.exi import codec as native
from v2g.exi.schemas import ISO20_AC, ISO20_COMMON, ISO20_DC
from v2g.session import Setpoint

_DC_FIELD = {
    (ServiceV20.DC, ControlMode.SCHEDULED): "scheduled_dc_charge_loop_res",
    (ServiceV20.DC, ControlMode.DYNAMIC): "dynamic_dc_charge_loop_res",
    (ServiceV20.DC_BPT, ControlMode.SCHEDULED): "bpt_scheduled_dc_charge_loop_res",
    (ServiceV20.DC_BPT, ControlMode.DYNAMIC): "bpt_dynamic_dc_charge_loop_res",
}
_AC_FIELD = {
    (ServiceV20.AC, ControlMode.SCHEDULED): "scheduled_params",
    (ServiceV20.AC, ControlMode.DYNAMIC): "dynamic_params",
    (ServiceV20.AC_BPT, ControlMode.SCHEDULED): "bpt_scheduled_params",
    (ServiceV20.AC_BPT, ControlMode.DYNAMIC): "bpt_dynamic_params",
}


@pytest.fixture(scope="module")
def exi() -> Any:
    return prepare()


def _header() -> MessageHeader:
    return MessageHeader(session_id=SESSION_ID, timestamp=int(time.time()))


def _sent(exi: Any, message: Any, namespace: str) -> dict[str, Any]:
    """What the EV receives: the model encoded as the SECC does, decoded again."""
    stream = exi.to_exi(message, namespace)
    decoded: dict[str, Any] = native.decode(stream, namespace)
    assert native.encode(decoded, namespace) == stream
    return decoded


async def _rig(
    clock: Any, monotonic: Any, evse: Any, protocol: Protocol, service: ServiceV20, power_w: float
) -> Rig:
    rig = Rig(evse, clock, monotonic)
    await rig.enter("SupportedAppProtocol", protocol=protocol, service=service)
    await rig.enter("SessionSetup", protocol=protocol, service=service)
    rig.report_dc_bpt_ev() if protocol == Protocol.ISO_15118_20_DC else rig.report_ac_bpt_ev()
    await rig.controller.send_rated_limits()
    rig.mailbox.post(
        Setpoint.from_source(power_w, clock.now() + timedelta(seconds=300), "test", SESSION_ID)
    )
    await rig.enter("PowerDelivery", protocol=protocol, service=service)
    return rig


@pytest.mark.parametrize("power_w", [7000.0, -5000.0])
@pytest.mark.parametrize("mode", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
@pytest.mark.parametrize("service", [ServiceV20.DC, ServiceV20.DC_BPT])
async def test_every_dc_charge_loop_answer_with_meter_info_encodes(
    exi, clock, monotonic, service, mode, power_w
):
    rig = await _rig(clock, monotonic, dc_bpt_evse(), Protocol.ISO_15118_20_DC, service, power_w)
    controller = rig.controller
    await controller.send_charging_command(400.0, 20.0)
    params = await controller.get_dc_charge_loop_params_v20(mode, service)
    response = DCChargeLoopRes(
        header=_header(),
        response_code=ResponseCode.OK,
        evse_present_current=await controller.get_evse_present_current(Protocol.ISO_15118_20_DC),
        evse_present_voltage=await controller.get_evse_present_voltage(Protocol.ISO_15118_20_DC),
        evse_power_limit_achieved=await controller.is_evse_power_limit_achieved(),
        evse_current_limit_achieved=await controller.is_evse_current_limit_achieved(),
        evse_voltage_limit_achieved=await controller.is_evse_voltage_limit_achieved(),
        meter_info=await controller.get_meter_info_v20(),
        **{_DC_FIELD[(service, mode)]: params},
    )
    body = _sent(exi, response, ISO20_DC)["DC_ChargeLoopRes"]
    assert "BPT_DischargedEnergyReadingWh" in body["MeterInfo"]
    assert response.dict(by_alias=True, exclude_none=True)["MeterInfo"] == body["MeterInfo"]


@pytest.mark.parametrize("power_w", [7000.0, -5000.0])
@pytest.mark.parametrize("mode", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
@pytest.mark.parametrize("service", [ServiceV20.AC, ServiceV20.AC_BPT])
async def test_every_ac_charge_loop_answer_with_meter_info_encodes(
    exi, clock, monotonic, service, mode, power_w
):
    rig = await _rig(clock, monotonic, ac_bpt_evse(), Protocol.ISO_15118_20_AC, service, power_w)
    controller = rig.controller
    params = await controller.get_ac_charge_loop_params_v20(mode, service)
    response = ACChargeLoopRes(
        header=_header(),
        response_code=ResponseCode.OK,
        meter_info=await controller.get_meter_info_v20(),
        **{_AC_FIELD[(service, mode)]: params},
    )
    body = _sent(exi, response, ISO20_AC)["AC_ChargeLoopRes"]
    assert "BPT_DischargedEnergyReadingWh" in body["MeterInfo"]


@pytest.mark.parametrize("mode", [ControlMode.SCHEDULED, ControlMode.DYNAMIC])
@pytest.mark.parametrize("service", [ServiceV20.DC, ServiceV20.DC_BPT])
@pytest.mark.parametrize("power_w", [7000.0, -5000.0])
async def test_every_schedule_exchange_answer_encodes(
    exi, clock, monotonic, service, mode, power_w
):
    rig = await _rig(clock, monotonic, dc_bpt_evse(), Protocol.ISO_15118_20_DC, service, power_w)
    request = ScheduleExchangeReq.parse_obj(
        {
            "Header": {"SessionID": SESSION_ID, "TimeStamp": 1},
            "MaximumSupportingPoints": 1024,
            **(
                {
                    "Dynamic_SEReqControlMode": {
                        "DepartureTime": 7200,
                        "EVTargetEnergyRequest": {"Exponent": 3, "Value": 20},
                        "EVMaximumEnergyRequest": {"Exponent": 3, "Value": 40},
                        "EVMinimumEnergyRequest": {"Exponent": 3, "Value": 5},
                    }
                }
                if mode == ControlMode.DYNAMIC
                else {"Scheduled_SEReqControlMode": {}}
            ),
        }
    )
    selected = SelectedEnergyService(service=service, is_free=True, parameter_set=None)
    params = await rig.controller.get_schedule_exchange_params(selected, mode, request)
    key = "dynamic_params" if mode == ControlMode.DYNAMIC else "scheduled_params"
    response = ScheduleExchangeRes(
        header=_header(),
        response_code=ResponseCode.OK,
        evse_processing=Processing.FINISHED,
        **{key: params},
    )
    assert "ScheduleExchangeRes" in _sent(exi, response, ISO20_COMMON)
