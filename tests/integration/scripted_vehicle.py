"""The iso15118 package's EVCC, scripted to say only what its standard requires.

``python -m tests.integration.scripted_vehicle SPEC.json INTERFACE RESULT.json``, run
in the vehicle's namespace like ``v2g.secc.loopback.vehicle``. The package's own
simulated -20 EV always sends DisplayParameters with a SoC; this one is issue 19's
ISO 15118-20 DC_BPT dynamic vehicle: departure in 2 h, EVTargetEnergyRequest 20 kWh,
EVMinimumEnergyRequest 5 kWh, EVMaximumEnergyRequest 40 kWh, V2X -10..40 kWh, 50 kW each
way, and no DisplayParameters, so no SoC. It re-sends the same requests (and the
remaining time to departure) in every ChargeLoopReq; it does not model a battery.
With ``V2G_TEST_EV=package`` it is the package's own EV instead (DIN, -2), only slower
in its charge loop (1 s between requests) so that a session spans control cycles.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from iso15118.evcc.controller.simulator import SimEVController
from iso15118.shared.messages.enums import ServiceV20
from iso15118.shared.messages.iso15118_20.common_messages import (
    DynamicScheduleExchangeReqParams,
    SelectedEnergyService,
)
from iso15118.shared.messages.iso15118_20.common_types import RationalNumber
from iso15118.shared.messages.iso15118_20.dc import (
    BPTDCChargeParameterDiscoveryReqParams,
    BPTDynamicDCChargeLoopReqParams,
    DCChargeParameterDiscoveryReqParams,
)

from v2g.secc.loopback import vehicle
from v2g.secc.loopback.spec import run_side

DEPARTURE_S = 7200
TARGET_WH, MIN_WH, MAX_WH = 20_000.0, 5_000.0, 40_000.0
V2X_MIN_WH, V2X_MAX_WH = -10_000.0, 40_000.0
POWER_W = 50_000.0
VOLTAGE_V = 400.0


def _kwh(wh: float) -> RationalNumber:
    return RationalNumber(exponent=0, value=round(wh)) if abs(wh) < 32_000 else _coarse(wh)


def _coarse(value: float) -> RationalNumber:
    return RationalNumber(exponent=1, value=round(value / 10))


class MandatoryOnlyEV(SimEVController):  # type: ignore[misc]
    """Says what -20 dynamic mode requires, and nothing more."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started = time.monotonic()

    def _departure_s(self) -> int:
        return max(DEPARTURE_S - round(time.monotonic() - self._started), 1)

    async def get_display_params(self) -> None:
        return None

    async def get_dynamic_se_params(
        self, selected_energy_service: SelectedEnergyService
    ) -> DynamicScheduleExchangeReqParams:
        return DynamicScheduleExchangeReqParams(
            departure_time=self._departure_s(),
            ev_target_energy_request=_kwh(TARGET_WH),
            ev_max_energy_request=_kwh(MAX_WH),
            ev_min_energy_request=_kwh(MIN_WH),
            ev_max_v2x_energy_request=_kwh(V2X_MAX_WH),
            ev_min_v2x_energy_request=_kwh(V2X_MIN_WH),
        )

    async def get_charge_params_v20(self, selected_service: SelectedEnergyService) -> Any:
        dc = DCChargeParameterDiscoveryReqParams(
            ev_max_charge_power=_coarse(POWER_W),
            ev_min_charge_power=RationalNumber(exponent=0, value=0),
            ev_max_charge_current=RationalNumber(exponent=0, value=125),
            ev_min_charge_current=RationalNumber(exponent=0, value=0),
            ev_max_voltage=RationalNumber(exponent=0, value=450),
            ev_min_voltage=RationalNumber(exponent=0, value=200),
        )
        if selected_service.service != ServiceV20.DC_BPT:
            return await super().get_charge_params_v20(selected_service)
        return BPTDCChargeParameterDiscoveryReqParams(
            **dc.dict(),
            ev_max_discharge_power=_coarse(POWER_W),
            ev_min_discharge_power=RationalNumber(exponent=0, value=0),
            ev_max_discharge_current=RationalNumber(exponent=0, value=125),
            ev_min_discharge_current=RationalNumber(exponent=0, value=0),
        )

    async def get_bpt_dynamic_dc_charge_loop_params(self) -> BPTDynamicDCChargeLoopReqParams:
        return BPTDynamicDCChargeLoopReqParams(
            departure_time=self._departure_s(),
            ev_target_energy_request=_kwh(TARGET_WH),
            ev_max_energy_request=_kwh(MAX_WH),
            ev_min_energy_request=_kwh(MIN_WH),
            ev_max_charge_power=_coarse(POWER_W),
            ev_min_charge_power=RationalNumber(exponent=0, value=0),
            ev_max_charge_current=RationalNumber(exponent=0, value=125),
            ev_max_voltage=RationalNumber(exponent=0, value=450),
            ev_min_voltage=RationalNumber(exponent=0, value=200),
            ev_max_discharge_power=_coarse(POWER_W),
            ev_min_discharge_power=RationalNumber(exponent=0, value=0),
            ev_max_discharge_current=RationalNumber(exponent=0, value=125),
            ev_max_v2x_energy_request=_kwh(V2X_MAX_WH),
            ev_min_v2x_energy_request=_kwh(V2X_MIN_WH),
        )

    async def get_present_voltage(self) -> RationalNumber:
        return RationalNumber(exponent=0, value=round(VOLTAGE_V))

    async def get_target_voltage(self) -> RationalNumber:
        return RationalNumber(exponent=0, value=round(VOLTAGE_V))

    async def charge_loop_delay(self) -> float:
        # s: under ISO 15118-20's 0.5 s the SECC waits after a ChargeLoopRes (Table
        # 217); the test sends enough loops to span a few control cycles of `v2g serve`.
        return 0.4


class PatientPackageEV(SimEVController):  # type: ignore[misc]
    """The package's simulated EV, one charge-loop request a second (DIN and -2 only:
    a -20 SECC ends a charge loop silent for 0.5 s)."""

    async def charge_loop_delay(self) -> int:
        return 1


if __name__ == "__main__":
    package = os.environ.get("V2G_TEST_EV") == "package"
    vehicle.SimEVController = PatientPackageEV if package else MandatoryOnlyEV  # type: ignore[misc]
    sys.exit(run_side("vehicle", vehicle.drive_one_session))
