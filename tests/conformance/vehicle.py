"""An ISO 15118-20 vehicle that sends what the schemas allow and the package's EV
never does (issue 20): ``MeterInfoRequested=true`` in every DC charge loop,
DisplayParameters without ``ChargingComplete``, and (scheduled) a
``Scheduled_EVPPTControlMode`` without ``PowerToleranceAcceptance``.

``python -m tests.conformance.vehicle SPEC.json INTERFACE RESULT.json`` in the
vehicle's namespace, like ``v2g.secc.loopback.vehicle``; the package's EVCC drives
the session, with its models relaxed as the SECC's are (so it can send and read
these messages).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from iso15118.evcc.controller.simulator import SimEVController
from iso15118.shared.iexi_codec import IEXICodec
from iso15118.shared.messages.iso15118_20.common_types import DisplayParameters

from v2g.secc.loopback import vehicle
from v2g.secc.loopback.spec import run_side
from v2g.secc.schema_conformance import install_schema_conformance


class SchemaMinimalEV(SimEVController):  # type: ignore[misc]
    """The package's simulated EV, with the optional elements above left out."""

    async def get_display_params(self) -> DisplayParameters:
        return DisplayParameters(present_soc=self._soc)  # no ChargingComplete

    async def process_scheduled_se_params(self, *args: Any, **kwargs: Any) -> Any:
        profile, progress = await super().process_scheduled_se_params(*args, **kwargs)
        if profile is not None and profile.scheduled_profile is not None:
            profile.scheduled_profile.power_tolerance_acceptance = None
        return profile, progress


def ask_meter_info_in_every_loop() -> None:
    """The package's EVCC always sends MeterInfoRequested=false; this one asks."""
    from iso15118.evcc.states import iso15118_20_states

    build = iso15118_20_states.DCChargeLoopReq

    def asking(**fields: Any) -> Any:
        return build(**{**fields, "meter_info_requested": True})

    iso15118_20_states.DCChargeLoopReq = asking


class EmptyControlModeCodec(IEXICodec):  # type: ignore[misc]
    """Sends the third DC_ChargeLoopReq in the -20 schema's empty ``CLReqControlMode``
    (schema-valid; no control mode the standard allows): the SECC must answer it."""

    def __init__(self, inner: IEXICodec) -> None:
        self._inner = inner
        self._loops = 0

    def encode(self, message: str, namespace: str) -> bytes:
        document = json.loads(message)
        body = document.get("DC_ChargeLoopReq")
        if body is not None:
            self._loops += 1
            if self._loops == 3:
                for mode in [k for k in body if k.endswith("CLReqControlMode")]:
                    del body[mode]
                body["CLReqControlMode"] = {}
                message = json.dumps(document)
        return self._inner.encode(message, namespace)

    def decode(self, stream: bytes, namespace: str) -> str:
        return self._inner.decode(stream, namespace)

    def get_version(self) -> str:
        return self._inner.get_version()


if __name__ == "__main__":
    install_schema_conformance()
    ask_meter_info_in_every_loop()
    if os.environ.get("V2G_CONFORMANCE_EV") == "empty-control-mode":
        make_codec = vehicle.make_codec
        vehicle.make_codec = lambda name: EmptyControlModeCodec(make_codec(name))
    vehicle.SimEVController = SchemaMinimalEV  # type: ignore[misc]
    sys.exit(run_side("vehicle", vehicle.drive_one_session))
