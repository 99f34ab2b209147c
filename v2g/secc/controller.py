"""The EVSE controller: answers every iso15118 call from local state, never waits.

iso15118 asks its ``EVSEControllerInterface`` for limits, schedules and status while
it talks to the EV. This implementation answers from three local sources only:

* the EVSE's rated limits (configuration),
* the setpoint mailbox (written by the aggregator, read here, never awaited),
* a simulated power stage (present voltage, current, energy).

EV data is translated into domain types at once (``v2g.secc.translation``) and
published as session events; data that cannot be right is rejected with a log line
and the EVSE answers safely (0 W) instead of trusting it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iso15118.secc.controller.evse_data import (
    EVSEACCLLimits,
    EVSEACCPDLimits,
    EVSEDataContext,
    EVSEDCCLLimits,
    EVSEDCCPDLimits,
    EVSERatedLimits,
    EVSESessionLimits,
)
from iso15118.secc.controller.interface import (
    AuthorizationResponse,
    EVSEControllerInterface,
    ServiceStatus,
)
from iso15118.shared.messages.datatypes import (
    DCEVSEChargeParameter,
    DCEVSEStatus,
    DCEVSEStatusCode,
    PhysicalValue,
    PVEVSEMaxCurrentLimit,
    PVEVSEMaxPowerLimit,
    PVEVSEMaxVoltageLimit,
    PVEVSEMinCurrentLimit,
    PVEVSEMinVoltageLimit,
    PVEVSEPeakCurrentRipple,
    PVEVSEPresentCurrent,
    PVEVSEPresentVoltage,
)
from iso15118.shared.messages.datatypes import EVSENotification as EVSENotificationV2
from iso15118.shared.messages.din_spec.datatypes import ResponseCode as ResponseCodeDIN
from iso15118.shared.messages.din_spec.datatypes import (
    SAScheduleTupleEntry as DinSAScheduleTuple,
)
from iso15118.shared.messages.enums import (
    AuthorizationStatus,
    AuthorizationTokenType,
    ControlMode,
    CpState,
    EnergyTransferModeEnum,
    IsolationLevel,
    Protocol,
    ServiceV20,
    SessionStopAction,
    UnitSymbol,
)
from iso15118.shared.messages.iso15118_2.datatypes import (
    ACEVSEChargeParameter,
    ACEVSEStatus,
    PVEVSEMaxCurrent,
    PVEVSENominalVoltage,
    SAScheduleTuple,
)
from iso15118.shared.messages.iso15118_2.datatypes import MeterInfo as MeterInfoV2
from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode as ResponseCodeV2
from iso15118.shared.messages.iso15118_20.ac import (
    ACChargeParameterDiscoveryResParams,
    BPTACChargeParameterDiscoveryResParams,
    BPTDynamicACChargeLoopResParams,
    BPTScheduledACChargeLoopResParams,
    DynamicACChargeLoopResParams,
    ScheduledACChargeLoopResParams,
)
from iso15118.shared.messages.iso15118_20.common_messages import (
    DynamicScheduleExchangeResParams,
    Parameter,
    ParameterSet,
    ProviderID,
    ScheduledScheduleExchangeResParams,
    ScheduleExchangeReq,
    SelectedEnergyService,
    Service,
    ServiceList,
    ServiceParameterList,
)
from iso15118.shared.messages.iso15118_20.common_types import (
    EVSENotification,
    EVSEStatus,
    RationalNumber,
)
from iso15118.shared.messages.iso15118_20.common_types import MeterInfo as MeterInfoV20
from iso15118.shared.messages.iso15118_20.common_types import ResponseCode as ResponseCodeV20
from iso15118.shared.messages.iso15118_20.dc import (
    BPTDCChargeParameterDiscoveryResParams,
    BPTDynamicDCChargeLoopRes,
    BPTScheduledDCChargeLoopResParams,
    DCChargeParameterDiscoveryResParams,
    DynamicDCChargeLoopRes,
    ScheduledDCChargeLoopResParams,
)
from iso15118.shared.states import State

from v2g.clock import Clock
from v2g.hardware.seams import NO_PWM_DUTY_CYCLE_PCT, ControlPilot, PilotState
from v2g.hardware.simulated import SimulatedPilot
from v2g.limits import Limit, PowerBounds
from v2g.secc.config import EvseConfig
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.mailbox import SetpointMailbox
from v2g.secc.plug_and_charge import ContractVerdict, response_code_v2
from v2g.secc.power_stage import OPEN_AT_CURRENT_A, PowerStage
from v2g.secc.schedules import (
    DAY_S,
    din_sa_schedule_tuple,
    iso2_sa_schedule_tuple,
    iso20_schedule_tuple,
)
from v2g.secc.translation import (
    AcGrid,
    DcPowerWindow,
    ev_limits,
    ev_needs,
    fresh_ev_data_context,
    is_bidirectional,
    protocol_label,
    to_rational,
)
from v2g.session import (
    ChargeNeeds,
    InvalidSessionData,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    PowerSchedule,
    SessionEnded,
    SessionStarted,
    Setpoint,
    TransferLimits,
    power_to_apply,
    schedule_from_setpoint,
)

logger = logging.getLogger(__name__)

#: ISO 15118-20 parameter values (Table 204 and 205 of -20).
_CONTROL_MODE_ID = {"scheduled": 1, "dynamic": 2}
_MOBILITY_NEEDS_BY_EVCC = 1
_SERVICE_IDS = {"ac": (ServiceV20.AC, ServiceV20.AC_BPT), "dc": (ServiceV20.DC, ServiceV20.DC_BPT)}
#: DIN SPEC 70121 and -2 fail a PreCharge whose current exceeds 2 A.
_PRECHARGE_CURRENT_A = 0.0


def din_evse_id(evse_id: str) -> str:
    """DIN SPEC 70121 carries the EVSE ID as hexBinary: DIN SPEC 91286 IDs map digit by
    digit with '*' as 0xA ("49*89*6360" -> "49A89A6360"). IDs that do not fit that
    alphabet are sent as 0x00, which DIN SPEC 70121 uses for "no EVSE ID"."""
    digits = evse_id.replace("*", "A")
    if digits and all(c in "0123456789A" for c in digits):
        return digits if len(digits) % 2 == 0 else digits + "0"
    return "00"


def _physical(cls: Any, value: float, unit: str) -> Any:
    exponent, number = PhysicalValue.get_exponent_value_repr(value)
    return cls(multiplier=exponent, value=number, unit=unit)


def _fresh_evse_data_context(evse: EvseConfig) -> EVSEDataContext:
    """An EVSEDataContext with limit objects of its own (iso15118 0.31.2 shares mutable
    defaults between contexts; a setpoint for EVSE A would show up on EVSE B)."""
    context = EVSEDataContext(
        rated_limits=EVSERatedLimits(ac_limits=EVSEACCPDLimits(), dc_limits=EVSEDCCPDLimits()),
        session_limits=EVSESessionLimits(ac_limits=EVSEACCLLimits(), dc_limits=EVSEDCCLLimits()),
    )
    context.nominal_voltage = evse.nominal_voltage_v
    context.nominal_frequency = evse.nominal_frequency_hz
    return context


@dataclass(slots=True)
class _LiveSession:
    """What the controller tracks about the session in progress; replaced, not
    cleared, when the next one begins."""

    comm_session: Any = None
    session_id: str | None = None
    started_published: bool = False
    #: False until the first PowerDelivery(Start): everything before it is PreCharge.
    #: False again once energy transfer stopped (Stop, -2 Renegotiate): the CableCheck
    #: and PreCharge that follow a renegotiation or a resume are PreCharge again.
    energy_flowing: bool = False
    #: Set when energy transfer stopped in the request being answered, cleared by the
    #: next PowerDelivery(Start): a PowerDelivery that stops never starts the loop.
    stopped: bool = False
    last_needs: ChargeNeeds | None = None
    last_ev_limits: TransferLimits | None = None
    ev_data_rejected: str | None = None
    #: The power decided for the response being built (set by the charge-loop tick,
    #: cleared once that response is sent): every field of one answer agrees.
    answering: Limit | None = None
    #: Why Plug & Charge was refused in this session (carried into SessionEnded).
    pnc_rejected: str | None = None
    #: Why the EVSE itself ended the session (unplug, pilot error, a module or
    #: isolation fault: ``end_now``), and the monotonic second (s) it did; None while
    #: the EV's side runs it.
    ending: str | None = None
    ending_s: float | None = None


#: What ended a session, from the reason the package (or a hook) gave: the words that
#: name each cause, checked in this order.
_ENDED_BY = (
    ("isolation fault", "isolation-fault"),
    ("power module fault", "module-fault"),
    ("unplugged", "unplug"),
    ("control pilot", "pilot"),
    ("TimeoutError", "ev-silent"),
    ("V2G_SECC_Sequence_Timeout", "ev-silent"),
    ("TCP peer closed connection", "ev-closed"),
    ("EV requested", "ev"),
    ("Communication session", "ev"),
)


def ended_by_of(reason: str) -> str:
    """``ev-silent``, ``unplug``, ``module-fault``, ``isolation-fault``, ``pilot``,
    ``ev-closed``, ``ev`` or ``error`` (anything else: a refused frame, a failed
    check)."""
    return next((name for words, name in _ENDED_BY if words in reason), "error")


@dataclass(frozen=True, slots=True)
class SessionEnding:
    """How a session ended: ``ended_by`` (``ended_by_of``), the reason as given, the
    monotonic second (s) its output was at rest with contactors open, and how long the
    ramp-down took (s)."""

    ended_by: str
    reason: str
    at_rest_s: float
    ramp_down_s: float


class EvseController(EVSEControllerInterface):
    """One EVSE as the iso15118 SECC sees it. Answers from local state only."""

    def __init__(
        self,
        evse: EvseConfig,
        mailbox: SetpointMailbox,
        events: SessionEventBus,
        clock: Clock,
        monotonic_s: Callable[[], float] = time.monotonic,
        contract_check: Callable[[bytes, str | None], ContractVerdict] | None = None,
        stage: PowerStage | None = None,
        pilot: ControlPilot | None = None,
    ) -> None:
        super().__init__()
        #: The pilot line (simulated: held in C, a vehicle ready to charge).
        self.pilot: ControlPilot = pilot or SimulatedPilot()
        #: Ends the live session at once (tests replace it).
        self.close_session: Callable[[], None] = self._close_live_session
        self._contract_check = contract_check
        self.evse = evse
        self.mailbox = mailbox
        self._events = events
        self._clock = clock
        self._evse_grid = AcGrid(evse.nominal_voltage_v, evse.phases)
        self.ev_data_context = fresh_ev_data_context()
        self.evse_data_context = _fresh_evse_data_context(evse)
        self.stage = stage or PowerStage.for_evse(evse, monotonic_s)
        self._live = _LiveSession()
        #: How the last session ended (None: none ended yet in this process).
        self.last_ending: SessionEnding | None = None
        self._ended_live: SessionEnding | None = None
        self.status: ServiceStatus | None = None

    # -- session tracking -----------------------------------------------------------

    def reset_ev_data_context(self) -> None:
        self.ev_data_context = fresh_ev_data_context()

    async def set_present_protocol_state(self, state: State) -> None:
        """Called after each request is answered, with the state that answered it."""
        self._live.answering = None
        name = type(state).__name__
        comm_session = getattr(state, "comm_session", None)
        if name == "SupportedAppProtocol":
            self._begin_session()
        if comm_session is not None:
            self._live.comm_session = comm_session
            self._live.session_id = (
                getattr(comm_session, "session_id", None) or self._live.session_id
            )
        if name == "PowerDelivery" and not self._live.energy_flowing and not self._live.stopped:
            # Everything before the first PowerDelivery(Start) is PreCharge: the flag
            # iso15118 passes to send_charging_command cannot be trusted (-20 DC passes
            # the BPT flag in its place), so the charge loop is recognised by the sequence.
            self._live.energy_flowing = True

    def pause_energy_transfer(self, why: str) -> None:
        """Bring the output to 0 A (the stage ramps down) and leave the charge loop:
        after a -2 PowerDelivery(Renegotiate), a Stop or a pause the EV runs CableCheck
        and PreCharge again, and both need the output off (IEC 61851-23 CC.5.2 allows
        at most 2 A in PreCharge). Called by the package's Stop handling
        (``stop_charger``) and by the renegotiation hook (``iso15118_hooks``)."""
        if self._live.energy_flowing:
            logger.info(
                "EVSE %s: energy transfer stopped (%s); output ramps to 0 A",
                self.evse.evse_id,
                why,
            )
        self.stage.stop()
        self._live.energy_flowing = False
        self._live.stopped = True

    @property
    def session_live(self) -> bool:
        """A session began (SupportedAppProtocol) and has not ended."""
        return self._live.comm_session is not None and self._ended_live is None

    @property
    def energy_flowing(self) -> bool:
        return self._live.energy_flowing

    def end_now(self, reason: str) -> None:
        """The EVSE ends the live session itself (unplug, pilot error, module or
        isolation fault): output off and contactors open first, then the package is
        told (``close_session``: its read loop ends the session; ``session_ended``
        follows with this reason). Once per session."""
        if self._live.ending is not None:
            return
        current_a = self.stage.open_now()
        self._live.ending, self._live.ending_s = reason, time.monotonic()
        logger.warning(
            "EVSE %s: %s; output off, contactors open%s",
            self.evse.evse_id,
            reason,
            f" (under {current_a:.1f} A)" if abs(current_a) > OPEN_AT_CURRENT_A else "",
        )
        self.close_session()

    def _close_live_session(self) -> None:
        """What the package's ``SECCHandler.close_session`` is for: EOF fed to the
        session's reader, so its read loop ends the session at once ("TCP peer closed
        connection"). iso15118 0.31.2's own looks its session up under the peer's whole
        address where it stored it under the host alone: a KeyError, logged, and the
        session went on (trap)."""
        reader = getattr(self._live.comm_session, "reader", None)
        if reader is not None:
            reader.feed_eof()

    def energy_allowed(self) -> bool:
        """IEC 61851-1: energy flows in pilot states C and D only."""
        return self.pilot.state().energy_allowed

    def _begin_session(self) -> None:
        """A new session starts on the fallback (which never discharges): whatever the
        mailbox holds was planned for an earlier session."""
        self.mailbox.clear()
        self.reset_ev_data_context()
        self.stage.reset()
        self._live = _LiveSession()
        self._ended_live = None

    def _setpoint(self) -> Setpoint | None:
        """The mailbox's setpoint if it was planned for the live session (aged on the
        monotonic clock); None otherwise."""
        return self.mailbox.read_for(self._live.session_id, self._clock.now())

    @property
    def _protocol(self) -> Protocol | None:
        return self.get_selected_protocol()

    @property
    def _service(self) -> ServiceV20 | None:
        selected: SelectedEnergyService | None = getattr(
            self._live.comm_session, "selected_energy_service", None
        )
        return selected.service if selected else None

    @property
    def _is_bpt_session(self) -> bool:
        return is_bidirectional(self._service)

    @property
    def _label(self) -> str:
        return protocol_label(
            self._protocol,
            self._service,
            getattr(self._live.comm_session, "selected_charging_type_is_ac", None)
            if self._protocol == Protocol.ISO_15118_2
            else None,
        )

    @property
    def _ac_grid(self) -> AcGrid:
        """The EVSE's AC supply as this session uses it: one phase when the EV chose
        AC_single_phase_core (DIN/-2 ChargeParameterDiscoveryReq), else all of them."""
        mode = getattr(self.ev_data_context, "selected_energy_mode", None)
        if mode == EnergyTransferModeEnum.AC_SINGLE_PHASE_CORE:
            return AcGrid(self.evse.nominal_voltage_v, 1)
        return self._evse_grid

    def session_now(self) -> tuple[str, str | None] | None:
        """The running session's id and its EV's EVCCID once SessionSetup is answered,
        else None: what an authorization decides for. (SessionStarted is published
        later, with the EV's first data, after Authorization.)"""
        if self._live.session_id is None:
            return None
        return self._live.session_id, self._ev_id()

    def _ev_id(self) -> str | None:
        evcc_id = getattr(self._live.comm_session, "evcc_id", None) or self.ev_data_context.evcc_id
        if isinstance(evcc_id, bytes):
            return evcc_id.hex()
        return str(evcc_id) if evcc_id else None

    # -- the one decision: what power now ----------------------------------------

    def _bounds(self) -> PowerBounds:
        evse_bounds = self.evse.rated_bounds(self._is_bpt_session)
        if self._live.last_ev_limits is None:
            return evse_bounds
        return evse_bounds.intersect(self._live.last_ev_limits.bounds("EV"))

    def applied_power(self) -> Limit:
        """The signed power (W) this EVSE offers the EV now, with its binding limit.

        Fresh setpoint: clamped to the EV's and EVSE's limits. Missing or stale: the
        fallback, which never discharges. EV data rejected: 0 W.
        """
        if self._live.ev_data_rejected is not None:
            return Limit(0.0, f"EV data rejected: {self._live.ev_data_rejected}")
        return power_to_apply(
            self._setpoint(), self._clock.now(), self._bounds(), self.evse.fallback
        )

    def _answer_power(self) -> Limit:
        """The power of the response being built: the charge-loop tick's decision, so
        the limits, current and flags of one answer never disagree (and the decision is
        made once per response, not once per field)."""
        return self._live.answering or self.applied_power()

    def _refresh_ev_facts(self) -> None:
        """Translate the EV's data (needs, limits) and publish what changed."""
        now = self._clock.now()
        try:
            limits = ev_limits(
                self.ev_data_context, self.evse.current, self._is_bpt_session, self._ac_grid
            )
            needs = ev_needs(self.ev_data_context, now)
        except InvalidSessionData as error:
            if self._live.ev_data_rejected != str(error):
                logger.error(
                    "EVSE %s: EV data rejected, answering 0 W: %s", self.evse.evse_id, error
                )
            self._live.ev_data_rejected = str(error)
            return
        self._live.ev_data_rejected = None
        session_id = self._live.session_id or "unknown"
        if not self._live.started_published:
            self._live.started_published = True
            self._events.publish(
                SessionStarted(self.evse.evse_id, session_id, now, self._ev_id(), self._label)
            )
        if limits != self._live.last_ev_limits:
            self._live.last_ev_limits = limits
            self._events.publish(LimitsReported(self.evse.evse_id, session_id, now, limits))
        if self._live.last_needs is None or _needs_changed(self._live.last_needs, needs):
            self._live.last_needs = needs
            self._events.publish(NeedsReported(self.evse.evse_id, session_id, now, needs))

    def _schedule(self, horizon_s: int) -> PowerSchedule:
        """What the mailbox holds from now to ``horizon_s`` (departure, else a day)."""
        return schedule_from_setpoint(
            self._setpoint(),
            self._clock.now(),
            self._bounds(),
            self.evse.fallback,
            horizon_s=horizon_s,
        )

    def _charge_loop_tick(self) -> Limit:
        """One charge-loop answer: refresh EV facts, decide the power, drive the stage."""
        self._refresh_ev_facts()
        applied = self._live.answering = self.applied_power()
        if self.evse.current == "ac":
            if self.energy_allowed() and self._live.ending is None:
                self.stage.command_ac(applied.power_w)
            else:
                self.stage.stop()
        reading = self.stage.read()
        self._events.publish(
            PowerMeasured(
                self.evse.evse_id,
                self._live.session_id or "unknown",
                self._clock.now(),
                reading.power_w,
                _optional_float(self.ev_data_context.present_soc),
            )
        )
        return applied

    # -- common -------------------------------------------------------------------

    async def set_status(self, status: ServiceStatus) -> None:
        self.status = status
        logger.info("EVSE %s status: %s", self.evse.evse_id, status.value)

    async def get_evse_id(self, protocol: Protocol) -> str:
        if protocol == Protocol.DIN_SPEC_70121:
            return din_evse_id(self.evse.evse_id)
        return self.evse.evse_id

    async def get_supported_energy_transfer_modes(
        self, protocol: Protocol
    ) -> list[EnergyTransferModeEnum]:
        """The configured modes, the preferred first: -2 offers them all; DIN SPEC
        70121 announces one EnergyTransferType, the package takes the first."""
        return [EnergyTransferModeEnum(mode) for mode in self.evse.energy_transfer_modes]

    async def get_energy_service_list(self) -> ServiceList:
        unidirectional, bidirectional = _SERVICE_IDS[self.evse.current]
        offered = [unidirectional] + ([bidirectional] if self.evse.is_bidirectional else [])
        return ServiceList(
            services=[Service(service_id=s.id, free_service=False) for s in offered]
        )

    async def get_service_parameter_list(self, service_id: int) -> ServiceParameterList | None:
        """Parameter sets per control mode, the preferred mode first (the iso15118 EVCC
        takes the first set). Mobility needs come from the EV ([V2G20-2663] allows
        MobilityNeedsMode 1 with either control mode)."""
        common = []
        if self.evse.current == "ac":
            common.append(
                Parameter(name="EVSENominalVoltage", int_value=int(self.evse.nominal_voltage_v))
            )
        if service_id in (ServiceV20.AC_BPT.id, ServiceV20.DC_BPT.id):
            common += [
                Parameter(name="BPTChannel", int_value=1),
                Parameter(name="GeneratorMode", int_value=1),
            ]
        combinations = [
            (mode, connector)
            for mode in self.evse.control_modes
            for connector in connectors_v20(self.evse.energy_transfer_modes)
        ]
        sets = [
            ParameterSet(
                id=index,
                parameters=[
                    Parameter(name="Pricing", int_value=0),
                    Parameter(name="Connector", int_value=connector),
                    *common,
                    Parameter(name="ControlMode", int_value=_CONTROL_MODE_ID[mode]),
                    Parameter(name="MobilityNeedsMode", int_value=_MOBILITY_NEEDS_BY_EVCC),
                ],
            )
            for index, (mode, connector) in enumerate(combinations, start=1)
        ]
        return ServiceParameterList(parameter_sets=sets)

    async def get_schedule_exchange_params(
        self,
        selected_energy_service: SelectedEnergyService,
        control_mode: ControlMode,
        schedule_exchange_req: ScheduleExchangeReq,
    ) -> ScheduledScheduleExchangeResParams | DynamicScheduleExchangeResParams:
        self._refresh_ev_facts()
        if control_mode == ControlMode.DYNAMIC:
            # Live setpoints reach the EV in every dynamic charge-loop response.
            return DynamicScheduleExchangeResParams()
        schedule = self._schedule(horizon_s=int(self.ev_data_context.departure_time or DAY_S))
        bpt = is_bidirectional(selected_energy_service.service)
        return ScheduledScheduleExchangeResParams(
            schedule_tuples=[iso20_schedule_tuple(schedule, bidirectional=bpt)]
        )

    def is_eim_authorized(self) -> bool:
        # No RFID was presented before plug-in; authorization happens in the session.
        return False

    async def is_authorized(
        self,
        id_token: str | None = None,
        id_token_type: AuthorizationTokenType | None = None,
        certificate_chain: bytes | None = None,
        hash_data: list[dict[str, str]] | None = None,
    ) -> AuthorizationResponse:
        """EIM is accepted at the station. A contract certificate chain (-2 Plug &
        Charge; PEM, leaf first) is verified in full against the configured trust
        anchors; without a PKI it is refused rather than trusted. (-20 chains are
        verified before this call: ``v2g.secc.plug_and_charge``.)"""
        protocol = self.get_selected_protocol()
        if certificate_chain is None:
            return AuthorizationResponse(AuthorizationStatus.ACCEPTED, _response_ok(protocol))
        if self._contract_check is None:
            logger.warning(
                "EVSE %s: Plug & Charge attempted without a PKI; rejected", self.evse.evse_id
            )
            return AuthorizationResponse(
                AuthorizationStatus.REJECTED, _response_ok(protocol, failed=True)
            )
        verdict = self._contract_check(certificate_chain, id_token)
        if verdict.failure is not None:
            logger.error("EVSE %s: Plug & Charge rejected: %s", self.evse.evse_id, verdict.reason)
            self._live.pnc_rejected = verdict.reason
            return AuthorizationResponse(
                AuthorizationStatus.REJECTED, response_code_v2(verdict.failure)
            )
        logger.info(
            "EVSE %s: Plug & Charge contract %s verified", self.evse.evse_id, verdict.emaid
        )
        return AuthorizationResponse(AuthorizationStatus.ACCEPTED, _response_ok(protocol))

    async def get_sa_schedule_list(
        self,
        ev_data_context: Any,
        is_free_charging_service: bool,
        max_schedule_entries: int | None,
        departure_time: int = 0,
    ) -> list[SAScheduleTuple] | None:
        self._refresh_ev_facts()
        schedule = self._schedule(horizon_s=departure_time or DAY_S)
        return [iso2_sa_schedule_tuple(schedule, max_schedule_entries)]

    async def get_sa_schedule_list_dinspec(
        self, max_schedule_entries: int | None, departure_time: int = 0
    ) -> list[DinSAScheduleTuple] | None:
        self._refresh_ev_facts()
        schedule = self._schedule(horizon_s=departure_time or DAY_S)
        return [din_sa_schedule_tuple(schedule, max_schedule_entries)]

    async def get_meter_info_v2(self) -> MeterInfoV2:
        reading = self.stage.read()
        return MeterInfoV2(
            meter_id=f"{self.evse.evse_id}-meter"[:32],
            meter_reading=int(reading.charged_wh),
            t_meter=int(self._clock.now().timestamp()),
        )

    async def get_meter_info_v20(self) -> MeterInfoV20:
        reading = self.stage.read()
        return MeterInfoV20(
            meter_id=f"{self.evse.evse_id}-meter"[:32],
            charged_energy_reading_wh=int(reading.charged_wh),
            bpt_discharged_energy_reading_wh=int(reading.discharged_wh),
            meter_timestamp=int(self._clock.now().timestamp()),
        )

    async def get_supported_providers(self) -> list[ProviderID] | None:
        return None

    async def set_hlc_charging(self, is_ongoing: bool) -> None:
        """Called with True on every PowerDelivery(Start) in DIN, -2 and -20 (the
        charge loop follows), with False on Stop (``stop_charger`` follows)."""
        if is_ongoing:
            self._live.stopped = False
        logger.debug("EVSE %s high-level communication: %s", self.evse.evse_id, is_ongoing)

    async def get_cp_state(self) -> CpState:
        """The pilot state with its PWM suffix (1: no PWM, 2: PWM on)."""
        state = self.pilot.state()
        if state.error:
            return CpState(state.value)
        pwm = "2" if self.pilot.duty_cycle_pct() < NO_PWM_DUTY_CYCLE_PCT else "1"
        return CpState(state.value + pwm)

    async def service_renegotiation_supported(self) -> bool:
        return False

    async def stop_charger(self) -> None:
        self.pause_energy_transfer("PowerDelivery Stop")

    async def is_contactor_opened(self) -> bool:
        return True

    async def is_contactor_closed(self) -> bool | None:
        """CableCheck's isolation test runs with the contactors closed (IEC 61851-23
        6.4.3.106); they close here and stay closed until the session ends."""
        self.stage.close_contactors()
        return self.stage.contactor.closed

    def _fault_now(self) -> str | None:
        """Why this EVSE cannot go on (the EVSE is ending the session, or what the
        supervisor ends a session for: the pilot unplugged or in error, a module or
        isolation fault), else None. Read at every answer, so the EV hears it in the
        answers that go out before the supervisor (which polls) ends the session."""
        return self._live.ending or ending_cause(self.pilot.state(), self.stage.fault)

    async def get_evse_status(self) -> EVSEStatus | None:
        # -20: Terminate ends the session when asked to (the mailbox's stop path) or
        # when the EVSE cannot go on.
        if self._fault_now() is not None or self.mailbox.stop_requested(self._live.session_id):
            return EVSEStatus(
                notification_max_delay=0, evse_notification=EVSENotification.TERMINATE
            )
        return None

    def _notification_v2(self) -> EVSENotificationV2:
        # -2 and DIN: StopCharging when the session was asked to end (the mailbox's stop
        # path) or the EVSE cannot go on.
        return self._notification_for(self._fault_now())

    def _notification_for(self, fault: str | None) -> EVSENotificationV2:
        if fault is not None or self.mailbox.stop_requested(self._live.session_id):
            return EVSENotificationV2.STOP_CHARGING
        return EVSENotificationV2.NONE

    async def get_15118_ev_certificate(
        self, base64_encoded_cert_installation_req: str, namespace: str
    ) -> str:
        raise NotImplementedError(
            "contract certificate installation needs a PKI; this SECC does not offer it"
        )

    async def update_data_link(self, action: SessionStopAction) -> None:
        logger.info("EVSE %s data link: %s", self.evse.evse_id, action.value)

    def ready_to_charge(self) -> bool:
        return True

    async def session_ended(self, current_state: str, reason: str) -> None:
        """Output to 0 and contactors open first (``PowerStage.bring_to_rest``), then
        the session record closes: the aggregator hears of the end (SessionEnded, with
        what ended it) only once the EVSE is safe."""
        rest_s = await self.stage.bring_to_rest(self._rest_limit_s)
        self.mailbox.clear()
        if self._live.ending is not None:
            reason = f"{self._live.ending} (then: {reason})"
        ended_by = ended_by_of(reason)
        at_rest_s = self.stage.at_rest_since_s or time.monotonic()
        self.last_ending = SessionEnding(ended_by, reason, at_rest_s, rest_s)
        self._ended_live = self.last_ending
        logger.info(
            "EVSE %s: output at rest (%.3f s to <= 1 A) and contactors open; session ended by %s",
            self.evse.evse_id,
            rest_s,
            ended_by,
        )
        self._events.publish(
            SessionEnded(
                self.evse.evse_id,
                self._live.session_id or "unknown",
                self._clock.now(),
                f"{ended_by}: {reason} (in {current_state})"
                + (
                    f"; Plug & Charge rejected: {self._live.pnc_rejected}"
                    if self._live.pnc_rejected
                    else ""
                ),
            )
        )

    @property
    def _rest_limit_s(self) -> float:
        """The longest the output may take to ramp down from full current, with room
        (beyond it the contactors open under load, with an error line)."""
        ramp = self.evse.current_ramp_a_per_s
        return (self.evse.max_current_a / ramp if ramp > 0 else 0.0) + 0.5

    async def send_display_params(self) -> None:
        return None

    async def send_rated_limits(self) -> None:
        """Called at ChargeParameterDiscovery in every protocol: the EV's limits and
        needs are known now, so this is where the session facts first go out."""
        self._refresh_ev_facts()

    # -- AC -------------------------------------------------------------------------

    async def get_ac_evse_status(self) -> ACEVSEStatus:
        return ACEVSEStatus(
            notification_max_delay=0, evse_notification=self._notification_v2(), rcd=False
        )

    async def get_ac_charge_params_v2(self) -> ACEVSEChargeParameter:
        return ACEVSEChargeParameter(
            ac_evse_status=await self.get_ac_evse_status(),
            evse_nominal_voltage=_physical(
                PVEVSENominalVoltage, self.evse.nominal_voltage_v, UnitSymbol.VOLTAGE
            ),
            evse_max_current=_physical(
                PVEVSEMaxCurrent, self.evse.max_current_a, UnitSymbol.AMPERE
            ),
        )

    async def get_ac_charge_params_v20(
        self, energy_service: ServiceV20
    ) -> ACChargeParameterDiscoveryResParams | BPTACChargeParameterDiscoveryResParams | None:
        params = ACChargeParameterDiscoveryResParams(
            evse_max_charge_power=to_rational(self.evse.max_charge_power_w),
            evse_min_charge_power=to_rational(self.evse.min_charge_power_w),
            evse_nominal_frequency=to_rational(self.evse.nominal_frequency_hz),
            evse_present_active_power=to_rational(self.stage.read().power_w),
        )
        if energy_service == ServiceV20.AC_BPT:
            return BPTACChargeParameterDiscoveryResParams(
                **params.dict(),
                evse_max_discharge_power=to_rational(self.evse.max_discharge_power_w),
                evse_min_discharge_power=to_rational(0),
            )
        return params

    async def get_ac_charge_loop_params_v20(
        self, control_mode: ControlMode, selected_service: ServiceV20
    ) -> (
        ScheduledACChargeLoopResParams
        | BPTScheduledACChargeLoopResParams
        | DynamicACChargeLoopResParams
        | BPTDynamicACChargeLoopResParams
    ):
        """EVSETargetActivePower follows the mailbox (negative = discharge), clamped to
        the EV's and EVSE's limits. Replaces the package's version, which crashes with
        a TypeError when AC session limits were never set."""
        applied = self._charge_loop_tick()
        fields = {
            "evse_target_active_power": to_rational(applied.power_w),
            "evse_present_active_power": to_rational(self.stage.read().power_w),
        }
        bpt = selected_service == ServiceV20.AC_BPT
        if control_mode == ControlMode.DYNAMIC:
            cls: Any = BPTDynamicACChargeLoopResParams if bpt else DynamicACChargeLoopResParams
        else:
            cls = BPTScheduledACChargeLoopResParams if bpt else ScheduledACChargeLoopResParams
        return cls(**fields)

    # -- DC -------------------------------------------------------------------------

    async def get_dc_evse_status(self) -> DCEVSEStatus:
        # A fault is an emergency shutdown (ISO 15118-2 Table 90 / DIN SPEC 70121
        # Table 96): the EV stops at once rather than waiting for the connection to go.
        fault = self._fault_now()
        return DCEVSEStatus(
            evse_notification=self._notification_for(fault),
            notification_max_delay=0,
            evse_isolation_status=IsolationLevel.FAULT
            if fault is not None and fault.startswith("isolation")
            else IsolationLevel.VALID,
            evse_status_code=DCEVSEStatusCode.EVSE_READY
            if fault is None
            else DCEVSEStatusCode.EVSE_EMERGENCY_SHUTDOWN,
        )

    async def get_dc_charge_parameters(self) -> DCEVSEChargeParameter:
        """DIN SPEC 70121 and -2 DC ChargeParameterDiscoveryRes (charge only)."""
        return DCEVSEChargeParameter(
            dc_evse_status=await self.get_dc_evse_status(),
            evse_maximum_power_limit=_physical(
                PVEVSEMaxPowerLimit, self.evse.max_charge_power_w, UnitSymbol.WATT
            ),
            evse_maximum_current_limit=_physical(
                PVEVSEMaxCurrentLimit, self.evse.max_current_a, UnitSymbol.AMPERE
            ),
            evse_maximum_voltage_limit=_physical(
                PVEVSEMaxVoltageLimit, self.evse.max_voltage_v, UnitSymbol.VOLTAGE
            ),
            evse_minimum_current_limit=_physical(
                PVEVSEMinCurrentLimit, self.evse.min_current_a, UnitSymbol.AMPERE
            ),
            evse_minimum_voltage_limit=_physical(
                PVEVSEMinVoltageLimit, self.evse.min_voltage_v, UnitSymbol.VOLTAGE
            ),
            evse_peak_current_ripple=_physical(PVEVSEPeakCurrentRipple, 1, UnitSymbol.AMPERE),
        )

    async def get_dc_charge_params_v20(
        self, energy_service: ServiceV20
    ) -> DCChargeParameterDiscoveryResParams | BPTDCChargeParameterDiscoveryResParams | None:
        params = DCChargeParameterDiscoveryResParams(
            evse_max_charge_power=to_rational(self.evse.max_charge_power_w),
            evse_min_charge_power=to_rational(self.evse.min_charge_power_w),
            evse_max_charge_current=to_rational(self.evse.max_current_a),
            evse_min_charge_current=to_rational(self.evse.min_current_a),
            evse_max_voltage=to_rational(self.evse.max_voltage_v),
            evse_min_voltage=to_rational(self.evse.min_voltage_v),
        )
        if energy_service == ServiceV20.DC_BPT:
            return BPTDCChargeParameterDiscoveryResParams(
                **params.dict(),
                evse_max_discharge_power=to_rational(self.evse.max_discharge_power_w),
                evse_min_discharge_power=to_rational(0),
                evse_max_discharge_current=to_rational(self.evse.max_current_a),
                evse_min_discharge_current=to_rational(0),
            )
        return params

    async def start_cable_check(self) -> None:
        return None

    async def get_cable_check_status(self) -> IsolationLevel | None:
        """The isolation test runs with the output off: while current still flows
        (ramping down after a renegotiation or a pause) the answer is None, which the
        package sends as EVSEProcessing=Ongoing, and the EV asks again."""
        if self.stage.read().current_a != 0.0:
            return None
        return IsolationLevel.VALID

    async def send_charging_command(
        self,
        ev_target_voltage: float | None,
        ev_target_current: float | None,
        is_precharge: bool = False,
        is_session_bpt: bool = False,
    ) -> None:
        """Drive the simulated DC stage. Before the first PowerDelivery this is
        PreCharge: reach the EV's voltage at (almost) no current. In the charge loop the
        current is the EV's request capped by the applied power (or, in -20 dynamic mode
        where the EV sends no targets, the applied power at the present voltage)."""
        voltage_v = self._commanded_voltage_v(
            ev_target_voltage
            or self.ev_data_context.present_voltage
            or (self.stage.read().voltage_v)
        )
        if self._live.ending is not None or not self.energy_allowed():
            self.stage.stop()  # pilot B (a pause), or the session is being ended
            return
        if not self._live.energy_flowing:
            self.stage.command_dc(voltage_v, _PRECHARGE_CURRENT_A)
            return
        applied = self._charge_loop_tick()
        present_v = max(self.stage.read().voltage_v, 1.0)
        cap_a = applied.power_w / present_v
        if ev_target_current is None or applied.power_w < 0:
            current_a = cap_a
        else:
            current_a = min(ev_target_current, cap_a)
        current_a = max(-self.evse.max_current_a, min(self.evse.max_current_a, current_a))
        self.stage.command_dc(voltage_v, current_a)

    def _commanded_voltage_v(self, wanted_v: float) -> float:
        """The DC voltage (V) the stage may be driven to: the EV's wish clamped to the
        EVSE's rating, [0, max_voltage_v]; a value that is not a number gives 0 V.
        (DIN SPEC 70121 and ISO 15118-2/-20 let the EV ask; the EVSE never exceeds
        the EVSEMaximumVoltageLimit it announced.)"""
        wanted = float(wanted_v)
        if not math.isfinite(wanted):
            return 0.0
        return max(0.0, min(self.evse.max_voltage_v, wanted))

    async def get_evse_present_voltage(self, protocol: Protocol) -> Any:
        return self._present(
            protocol, self.stage.read().voltage_v, PVEVSEPresentVoltage, UnitSymbol.VOLTAGE
        )

    async def get_evse_present_current(self, protocol: Protocol) -> Any:
        return self._present(
            protocol, self.stage.read().current_a, PVEVSEPresentCurrent, UnitSymbol.AMPERE
        )

    @staticmethod
    def _present(protocol: Protocol, value: float, pv_cls: Any, unit: str) -> Any:
        if protocol in (Protocol.DIN_SPEC_70121, Protocol.ISO_15118_2):
            # DIN and -2 present values are unsigned in practice: report magnitude.
            return _physical(pv_cls, abs(value), unit)
        return to_rational(value)

    async def is_evse_current_limit_achieved(self) -> bool:
        return abs(self.stage.read().current_a) >= self.evse.max_current_a

    async def is_evse_voltage_limit_achieved(self) -> bool:
        return self.stage.read().voltage_v >= self.evse.max_voltage_v

    async def is_evse_power_limit_achieved(self) -> bool:
        if not self._live.energy_flowing:
            return False
        applied = self._answer_power().power_w
        return applied >= 0 and self.stage.read().power_w >= applied

    async def get_evse_max_voltage_limit(self) -> PVEVSEMaxVoltageLimit:
        return _physical(PVEVSEMaxVoltageLimit, self.evse.max_voltage_v, UnitSymbol.VOLTAGE)

    async def get_evse_max_current_limit(self) -> PVEVSEMaxCurrentLimit | PVEVSEMaxCurrent:
        """-2 AC ChargingStatus and DIN/-2 CurrentDemand: the current that carries the
        applied power (charge only in these protocols)."""
        if self.evse.current == "ac":
            applied = self._charge_loop_tick()
            current_a = min(
                self.evse.max_current_a, self._ac_grid.current_a(max(0.0, applied.power_w))
            )
            return _physical(PVEVSEMaxCurrent, current_a, UnitSymbol.AMPERE)
        voltage_v = max(self.stage.read().voltage_v, 1.0)
        current_a = min(
            self.evse.max_current_a, max(0.0, self._answer_power().power_w) / voltage_v
        )
        return _physical(PVEVSEMaxCurrentLimit, current_a, UnitSymbol.AMPERE)

    async def get_evse_max_power_limit(self) -> PVEVSEMaxPowerLimit:
        return _physical(
            PVEVSEMaxPowerLimit, max(0.0, self._answer_power().power_w), UnitSymbol.WATT
        )

    async def get_dc_charge_loop_params_v20(
        self, control_mode: ControlMode, selected_service: ServiceV20
    ) -> (
        ScheduledDCChargeLoopResParams
        | BPTScheduledDCChargeLoopResParams
        | DynamicDCChargeLoopRes
        | BPTDynamicDCChargeLoopRes
        | None
    ):
        """The -20 DC limits narrowed onto the applied power (see DcPowerWindow).
        Computed from the mailbox on every call, so it does not matter that the
        package's DC ChargeParameterDiscovery replaces its session-limit objects."""
        window = DcPowerWindow.around(self._answer_power().power_w)
        charge: dict[str, RationalNumber] = {
            "evse_maximum_charge_power": to_rational(window.max_charge_power_w),
            "evse_minimum_charge_power": to_rational(window.min_charge_power_w),
            "evse_maximum_charge_current": to_rational(self.evse.max_current_a),
            "evse_maximum_voltage": to_rational(self.evse.max_voltage_v),
        }
        if selected_service == ServiceV20.DC_BPT:
            charge |= {
                "evse_max_discharge_power": to_rational(window.max_discharge_power_w),
                "evse_min_discharge_power": to_rational(window.min_discharge_power_w),
                "evse_max_discharge_current": to_rational(self.evse.max_current_a),
                "evse_min_voltage": to_rational(self.evse.min_voltage_v),
            }
            cls: Any = (
                BPTDynamicDCChargeLoopRes
                if control_mode == ControlMode.DYNAMIC
                else BPTScheduledDCChargeLoopResParams
            )
        else:
            cls = (
                DynamicDCChargeLoopRes
                if control_mode == ControlMode.DYNAMIC
                else ScheduledDCChargeLoopResParams
            )
        return cls(**charge)


#: ISO 15118-20 service parameter "Connector" by DIN/-2 transfer mode: AC 1 single
#: phase, 2 three phase; DC 1 Core, 2 Extended (-20 has no combo or unique connector).
_CONNECTOR_V20 = {
    "AC_single_phase_core": 1,
    "AC_three_phase_core": 2,
    "DC_core": 1,
    "DC_extended": 2,
}


def connectors_v20(modes: tuple[str, ...]) -> list[int]:
    """The -20 Connector values of ``modes``, in their order, each once."""
    connectors = [_CONNECTOR_V20[m] for m in modes if m in _CONNECTOR_V20]
    return list(dict.fromkeys(connectors))


def _optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


#: -20 energy requests shrink with every ChargeLoopReq as the battery fills; a new
#: report goes out once one has moved this far (Wh), not on every loop. The fleet
#: carries the energy delivered in between (``FleetMember.delivered_wh``).
NEEDS_ENERGY_STEP_WH = 100.0


def _needs_changed(before: ChargeNeeds, after: ChargeNeeds) -> bool:
    """Needs differ beyond the report time (which changes on every charge loop) and
    beyond energy requests that moved less than NEEDS_ENERGY_STEP_WH."""
    return any(
        _field_changed(name, getattr(before, name), getattr(after, name))
        for name in ChargeNeeds.__dataclass_fields__
        if name not in ("reported_at", "departure")
    ) or (before.departure is None) != (after.departure is None)


def _field_changed(name: str, before: object, after: object) -> bool:
    if (
        name.endswith("_energy_wh")
        and isinstance(before, float | int)
        and isinstance(after, float | int)
    ):
        return abs(after - before) >= NEEDS_ENERGY_STEP_WH
    return before != after


def _response_ok(protocol: Protocol | None, failed: bool = False) -> Any:
    if protocol == Protocol.DIN_SPEC_70121:
        return ResponseCodeDIN.FAILED if failed else ResponseCodeDIN.OK
    if protocol is not None and protocol.name.startswith("ISO_15118_20"):
        return ResponseCodeV20.FAILED if failed else ResponseCodeV20.OK
    return ResponseCodeV2.FAILED if failed else ResponseCodeV2.OK


def ending_cause(state: PilotState, fault: str | None) -> str | None:
    """Why the EVSE must end a session now: the pilot says unplugged (A) or in error
    (E/F), or the stage reports a fault; None while it may go on."""
    if state == PilotState.A:
        return "control pilot A: EV unplugged"
    if state.error:
        return f"control pilot {state.value}: pilot error"
    return fault
