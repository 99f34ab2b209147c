"""A scripted ISO 15118-2 DC EV that draws full current, then renegotiates or pauses
(or keeps charging for a number of charge loops, timing each answer on the wire).

The iso15118 EVCC renegotiates only when the SECC asks it to, so this EV is built from
the captured ``iso2-dc/dynamic`` session (``wire_vehicle``'s corpus and wire) with its
values changed: it asks 150 A at 400 V, repeats CurrentDemandReq until the SECC reports
that current flowing, then sends PowerDeliveryReq(ChargeProgress=Renegotiate) and runs
ChargeParameterDiscovery, CableCheck and PreCharge again before charging on; or stops
with SessionStopReq(ChargingSession=Pause) and resumes on a new connection with the
paused SessionID. Run in the vehicle's network namespace:

``python -m tests.integration.renegotiating_vehicle PLAN.json`` prints a JSON ``Result``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.wire_vehicle import (
    Request,
    Script,
    Wire,
    captured_session,
    discover,
    response_of,
)

RENEGOTIATE, PAUSE, CHARGE = "renegotiate", "pause", "charge"
#: Repeats of one request while the SECC is still processing (or ramping).
MAX_REPEATS = 200


@dataclass(frozen=True, slots=True)
class Plan:
    interface: str
    action: str = RENEGOTIATE
    #: "iso2" (-2 DC) or "iso20" (-20 DC, dynamic mode; pause only: -20 renegotiates a
    #: schedule without leaving the loop).
    protocol: str = "iso2"
    target_current_a: float = 150.0
    target_voltage_v: float = 400.0
    read_timeout_s: float = 10.0
    #: ``charge``: CurrentDemandReqs sent once the current flows, ``loop_pause_s`` apart.
    charge_loops: int = 0
    loop_pause_s: float = 0.05


@dataclass(slots=True)
class Result:
    """What the EV saw. ``peak_current_a``: the highest EVSEPresentCurrent before it
    renegotiated or paused; ``cable_check_ongoing``: CableCheckRes with EVSEProcessing
    Ongoing in the CableCheck after it; ``charging_current_a``: the present current
    in the last CurrentDemandRes after it."""

    responses: list[str] = field(default_factory=list)
    peak_current_a: float = 0.0
    cable_check_ongoing: int = 0
    charging_current_a: float = 0.0
    completed: bool = False
    error: str = ""
    #: Per request: its name and the time (ms) from the EV's write of its first byte to
    #: the read of the response's last byte, on the EV's clock (``time.perf_counter``).
    wire_ms: list[tuple[str, float]] = field(default_factory=list)


def physical(value: dict[str, Any]) -> float:
    return float(value["Value"]) * 10.0 ** int(value["Multiplier"])


def _pv(number: float, unit: str) -> dict[str, Any]:
    return {"Multiplier": 0, "Unit": unit, "Value": int(number)}


class Messages:
    """The captured -2 DC requests, changed to a car that asks ``plan``'s current."""

    def __init__(self, plan: Plan) -> None:
        captured = captured_session("iso2-dc/dynamic")
        self.by_name: dict[str, Request] = {}
        for request in captured:
            self.by_name.setdefault(request.name, request)
        self.plan = plan

    def get(self, name: str, **changes: Any) -> Request:
        request = self.by_name[name]
        message = json.loads(json.dumps(request.message))
        if name == "supportedAppProtocolReq":
            return Request(request.namespace, message)
        body = message["V2G_Message"]["Body"][name]
        volts, amps = self.plan.target_voltage_v, self.plan.target_current_a
        if name == "ChargeParameterDiscoveryReq":
            params = body["DC_EVChargeParameter"]
            params["EVMaximumCurrentLimit"] = _pv(amps + 50, "A")
            params["EVMaximumPowerLimit"] = {"Multiplier": 3, "Unit": "W", "Value": 100}
            params["EVMaximumVoltageLimit"] = _pv(volts + 100, "V")
        if name == "PreChargeReq":
            body["EVTargetVoltage"] = _pv(volts, "V")
        if name == "CurrentDemandReq":
            body["EVTargetCurrent"] = _pv(amps, "A")
            body["EVTargetVoltage"] = _pv(volts, "V")
            body["EVMaximumCurrentLimit"] = _pv(amps + 50, "A")
            body["EVMaximumPowerLimit"] = {"Multiplier": 3, "Unit": "W", "Value": 100}
            body["ChargingComplete"] = False
        body.update(changes)
        return Request(request.namespace, message)


def _rational(number: float) -> dict[str, int]:
    """A -20 RationalNumber (Value is a 16-bit integer)."""
    exponent, value = 0, int(number)
    while abs(value) > 32767:
        exponent, value = exponent + 1, value // 10
    return {"Exponent": exponent, "Value": value}


def rational(value: dict[str, Any]) -> float:
    return float(value["Value"]) * 10.0 ** int(value["Exponent"])


class Messages20:
    """The captured -20 DC dynamic requests, changed to a car that draws ``plan``'s
    current: it allows the power that carries it at its voltage (the -20 SECC sets the
    current in dynamic mode)."""

    def __init__(self, plan: Plan) -> None:
        self.by_name: dict[str, list[Request]] = {}
        for request in captured_session("iso20-dc/dynamic"):
            self.by_name.setdefault(request.name, []).append(request)
        self.plan = plan

    def get(self, name: str, index: int = 0, **changes: Any) -> Request:
        request = self.by_name[name][index]
        message = json.loads(json.dumps(request.message))
        if name == "supportedAppProtocolReq":
            return Request(request.namespace, message)
        body = message[name]
        volts, amps = self.plan.target_voltage_v, self.plan.target_current_a
        power = _rational(volts * amps)
        if name == "DC_ChargeParameterDiscoveryReq":
            params = body["DC_CPDReqEnergyTransferMode"]
            params["EVMaximumChargePower"] = power
            params["EVMaximumChargeCurrent"] = _rational(amps + 50)
            params["EVMaximumVoltage"] = _rational(volts + 100)
        if name == "DC_PreChargeReq":
            body["EVPresentVoltage"] = body["EVTargetVoltage"] = _rational(volts)
        if name == "DC_ChargeLoopReq":
            body["EVPresentVoltage"] = _rational(volts)
            mode = body["Dynamic_DC_CLReqControlMode"]
            mode["EVMaximumChargePower"] = power
            mode["EVMinimumChargePower"] = _rational(0)
            mode["EVMaximumChargeCurrent"] = _rational(amps + 50)
            mode["EVMaximumVoltage"] = _rational(volts + 100)
            mode["EVMinimumVoltage"] = _rational(0)
            body["DisplayParameters"]["ChargingComplete"] = False
        body.update(changes)
        return Request(request.namespace, message)


class Session:
    """One TCP connection to the SECC, sending requests and noting the answers."""

    def __init__(self, plan: Plan, result: Result, session_id: str | None = None) -> None:
        self.wire = Wire(
            *discover(plan.interface),
            Script(plan.interface, "", read_timeout_s=plan.read_timeout_s),
        )
        self.result = result
        self.session_id = session_id

    def ask(self, request: Request) -> dict[str, Any]:
        """Send ``request`` and return the response body; raise on a code not OK."""
        data = request.encoded(self.session_id)
        sent = time.perf_counter()
        self.wire.send(data)
        received = self.wire.receive()
        self.result.wire_ms.append((request.name, (time.perf_counter() - sent) * 1000.0))
        name, body = response_of(*received, request)
        code = str(body.get("ResponseCode", ""))
        self.result.responses.append(f"{name} {code}")
        if not code.startswith("OK"):
            raise RuntimeError(f"{name} {code}")
        if name == "SessionSetupRes":
            self.session_id = body["Header"]["SessionID"]
        return body

    def until(self, request: Request, done: Any, pause_s: float = 0.02) -> dict[str, Any]:
        """Repeat ``request`` until ``done(body)`` holds (EVSEProcessing, a ramp)."""
        for _ in range(MAX_REPEATS):
            body = self.ask(request)
            if done(body):
                return body
            time.sleep(pause_s)
        raise RuntimeError(f"{request.name}: not done after {MAX_REPEATS} repeats")


def finished(body: dict[str, Any]) -> bool:
    return body.get("EVSEProcessing") != "Ongoing"


def _setup_to_charge_parameters(session: Session, m: Messages, setup: Request) -> None:
    session.ask(m.get("supportedAppProtocolReq"))
    session.ask(setup)
    session.ask(m.get("ServiceDiscoveryReq"))
    session.ask(m.get("PaymentServiceSelectionReq"))
    session.until(m.get("AuthorizationReq"), finished, 0.1)


def _charge_parameters_to_full_current(session: Session, m: Messages, plan: Plan) -> float:
    """ChargeParameterDiscovery, CableCheck, PreCharge, PowerDelivery(Start) and
    CurrentDemand until the target current flows; the present current then (A)."""
    session.until(m.get("ChargeParameterDiscoveryReq"), finished, 0.1)
    cable_check = m.get("CableCheckReq")
    ongoing = 0
    for _ in range(MAX_REPEATS):
        if finished(session.ask(cable_check)):
            break
        ongoing += 1
        time.sleep(0.02)
    session.result.cable_check_ongoing = ongoing
    session.until(
        m.get("PreChargeReq"),
        lambda body: physical(body["EVSEPresentVoltage"]) >= plan.target_voltage_v - 5,
    )
    session.ask(m.get("PowerDeliveryReq", ChargeProgress="Start"))
    body = session.until(
        m.get("CurrentDemandReq"),
        lambda body: physical(body["EVSEPresentCurrent"]) >= plan.target_current_a - 1,
    )
    return physical(body["EVSEPresentCurrent"])


def _stop(session: Session, m: Messages, charging_session: str) -> None:
    session.ask(m.get("PowerDeliveryReq", ChargeProgress="Stop"))
    if charging_session == "Terminate":
        session.ask(m.get("WeldingDetectionReq"))
    session.ask(m.get("SessionStopReq", ChargingSession=charging_session))


def _setup_20(session: Session, m: Messages20) -> None:
    session.ask(m.get("supportedAppProtocolReq"))
    session.ask(m.get("SessionSetupReq"))
    session.ask(m.get("AuthorizationSetupReq"))
    session.until(m.get("AuthorizationReq"), finished, 0.1)
    session.ask(m.get("ServiceDiscoveryReq"))
    session.ask(m.get("ServiceDetailReq"))
    session.ask(m.get("ServiceSelectionReq"))


def _to_full_current_20(session: Session, m: Messages20, plan: Plan) -> float:
    session.ask(m.get("DC_ChargeParameterDiscoveryReq"))
    session.until(m.get("ScheduleExchangeReq"), finished, 0.1)
    cable_check = m.get("DC_CableCheckReq")
    ongoing = 0
    for _ in range(MAX_REPEATS):
        if finished(session.ask(cable_check)):
            break
        ongoing += 1
        time.sleep(0.02)
    session.result.cable_check_ongoing = ongoing
    session.until(
        m.get("DC_PreChargeReq", 0),
        lambda body: rational(body["EVSEPresentVoltage"]) >= plan.target_voltage_v - 5,
    )
    session.ask(m.get("DC_PreChargeReq", 1))
    session.ask(m.get("PowerDeliveryReq", 0))
    session.ask(m.get("PowerDeliveryReq", 1))
    body = session.until(
        m.get("DC_ChargeLoopReq"),
        lambda body: rational(body["EVSEPresentCurrent"]) >= plan.target_current_a - 1,
    )
    return rational(body["EVSEPresentCurrent"])


def drive_20(plan: Plan) -> Result:
    """-20 DC: charge at full current, PowerDelivery(Stop), SessionStop(Pause), then
    resume on a new connection (SessionSetupReq with the paused SessionID) through
    DC_CableCheck and DC_PreCharge to full current again."""
    result = Result()
    m = Messages20(plan)
    session = Session(plan, result)
    try:
        _setup_20(session, m)
        result.peak_current_a = _to_full_current_20(session, m, plan)
        session.ask(m.get("PowerDeliveryReq", 2))  # Stop
        session.ask(m.get("SessionStopReq", ChargingSession="Pause"))
        paused = session.session_id
        session.wire.wait_closed(plan.read_timeout_s)
        session.wire.sock.close()
        session = Session(plan, result, paused)
        _setup_20(session, m)
        result.charging_current_a = _to_full_current_20(session, m, plan)
        session.ask(m.get("PowerDeliveryReq", 2))
        session.until(m.get("DC_WeldingDetectionReq", 2), lambda body: True)
        session.ask(m.get("SessionStopReq"))
        result.completed = True
    except (ConnectionError, TimeoutError, OSError, RuntimeError, KeyError) as error:
        result.error = f"{type(error).__name__}: {error}"
    session.wire.sock.close()
    return result


def drive(plan: Plan) -> Result:
    if plan.protocol == "iso20":
        return drive_20(plan)
    result = Result()
    m = Messages(plan)
    session = Session(plan, result)
    try:
        _setup_to_charge_parameters(session, m, m.get("SessionSetupReq"))
        result.peak_current_a = _charge_parameters_to_full_current(session, m, plan)
        if plan.action == CHARGE:
            for _ in range(plan.charge_loops):
                time.sleep(plan.loop_pause_s)
                session.ask(m.get("CurrentDemandReq"))
            _stop(session, m, "Terminate")
            result.completed = True
            session.wire.sock.close()
            return result
        if plan.action == RENEGOTIATE:
            session.ask(m.get("PowerDeliveryReq", ChargeProgress="Renegotiate"))
        else:
            _stop(session, m, "Pause")
            paused = session.session_id
            session.wire.wait_closed(plan.read_timeout_s)
            session.wire.sock.close()
            session = Session(plan, result, paused)
            # Resuming: a new connection whose SessionSetupReq names the paused session.
            _setup_to_charge_parameters(session, m, m.get("SessionSetupReq"))
        result.charging_current_a = _charge_parameters_to_full_current(session, m, plan)
        _stop(session, m, "Terminate")
        result.completed = True
    except (ConnectionError, TimeoutError, OSError, RuntimeError, KeyError) as error:
        result.error = f"{type(error).__name__}: {error}"
    session.wire.sock.close()
    return result


def main(argv: list[str]) -> int:
    plan = Plan(**json.loads(Path(argv[1]).read_text(encoding="utf-8")))
    print(json.dumps(asdict(drive(plan))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
