"""Where iso15118 0.31.2's models disagree with the ISO 15118 schemas, the SECC follows
the schemas (issue 20; decision record "Answer every request the schemas allow").

The package validates every request with pydantic-1 models before its state machine
sees it, and a model error ends the session without an answer. Measured with the
conformance sweep (``python -m tests.conformance.table``):

- **Fields the schema makes optional, the model requires.** -20
  ``Scheduled_EVPPTControlMode/PowerToleranceAcceptance`` and
  ``DisplayParameters/ChargingComplete`` (minOccurs 0 in V2G_CI_CommonMessages.xsd and
  V2G_CI_CommonTypes.xsd; the SECC reads neither): relaxed to optional.
- **A rule the schema does not have.** -20 ``PowerDeliveryReq`` with
  EVProcessing=Finished and ChargeProgress=Start must carry ``EVPowerProfile`` in the
  model. In dynamic control mode nothing needs it; in scheduled mode the EV selects
  its schedule only there (``SelectedScheduleTupleID``), so a PowerDelivery(Start)
  without it is answered FAILED_ScheduleSelectionInvalid, as the package answers a
  tuple it never offered.
- **Field names that differ from the schema's.** -20 ``MeterInfo`` is written as
  ``BPTDischargedEnergyReadingWh`` and ``BPTInductiveEnergyReadingVARh``; the schema
  says ``BPT_DischargedEnergyReadingWh`` and ``BPT_InductiveEnergyReadingVARh``. The
  native codec refused every answer that carried them (any -20 DC_BPT charge loop with
  MeterInfoRequested), the Java codec dropped the value. The models use the schema's
  names, so both codecs and both directions agree.
- **Anything else the models refuse** (a schema-valid request the standard's text does
  not allow, such as a -20 charge loop in the empty ``CLReqControlMode``) is answered
  with the standard's response code and one log line naming what was not met, instead
  of a dropped session (ISO 15118-2 [V2G2-538] and [V2G2-736]: the SECC answers every
  request, with a negative code if it cannot process it).
- **Requests the package has no model for** (-20 MeteringConfirmation, VehicleCheckIn
  and -Out, WPT, ACDP; DIN bodies DIN SPEC 70121 does not use) are answered
  FAILED_SequenceError with the minimal schema-valid response (``v2g.exi.minimal``).
- **Text in base64-named JSON fields** (DIN's string ``GenChallenge``) reaches the model
  as text instead of raising ``binascii.Error`` inside decoding.

``install_schema_conformance`` patches process-wide (as the package's own settings are)
and is idempotent.
"""

from __future__ import annotations

import importlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Final

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Relaxation:
    """A model field the schema makes optional (minOccurs 0) but the model requires."""

    module: str
    model: str
    field: str
    schema_rule: str


@dataclass(frozen=True, slots=True)
class SchemaName:
    """A model field whose JSON name (alias) differs from the schema's element name."""

    module: str
    model: str
    field: str
    schema_name: str


_COMMON_MESSAGES = "iso15118.shared.messages.iso15118_20.common_messages"
_COMMON_TYPES = "iso15118.shared.messages.iso15118_20.common_types"

RELAXATIONS: Final = (
    Relaxation(
        _COMMON_MESSAGES,
        "ScheduledEVPowerProfile",
        "power_tolerance_acceptance",
        "Scheduled_EVPPTControlModeType/PowerToleranceAcceptance minOccurs 0 "
        "(V2G_CI_CommonMessages.xsd)",
    ),
    Relaxation(
        _COMMON_TYPES,
        "DisplayParameters",
        "charging_complete",
        "DisplayParametersType/ChargingComplete minOccurs 0 (V2G_CI_CommonTypes.xsd)",
    ),
)

SCHEMA_NAMES: Final = (
    SchemaName(
        _COMMON_TYPES,
        "MeterInfo",
        "bpt_discharged_energy_reading_wh",
        "BPT_DischargedEnergyReadingWh",
    ),
    SchemaName(
        _COMMON_TYPES,
        "MeterInfo",
        "bpt_inductive_energy_reading_varh",
        "BPT_InductiveEnergyReadingVARh",
    ),
)

#: Requests whose refusal is about the charge parameters the EV sent: answered
#: FAILED_WrongChargeParameter (DIN 70121 Table 76, -2 Table 7, -20 Table 207);
#: anything else the model refuses is answered FAILED.
_CHARGE_PARAMETER_MESSAGES = re.compile(r"ChargeParameterDiscovery|ChargeLoop|CurrentDemand")

_INSTALLED = "__v2g_schema_conformance__"


def install_schema_conformance() -> None:
    """Make the iso15118 SECC follow the schemas (see the module docstring)."""
    from iso15118.secc.comm_session_handler import SECCCommunicationSession

    if getattr(SECCCommunicationSession, _INSTALLED, False):
        return
    for relaxation in RELAXATIONS:
        relax_field(relaxation)
    for name in SCHEMA_NAMES:
        rename_field(name)
    _drop_power_profile_rule()
    _guard_power_delivery()
    _tolerate_text_in_base64_names()
    _refuse_empty_bodies()
    SECCCommunicationSession.process_message = _answering_invalid_requests(  # type: ignore[method-assign]
        SECCCommunicationSession.process_message
    )
    setattr(SECCCommunicationSession, _INSTALLED, True)


def _models(module: str, model: str) -> list[Any]:
    """The model class and every subclass (pydantic 1 copies fields into each)."""
    root = getattr(importlib.import_module(module), model)
    found, pending = [], [root]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def relax_field(relaxation: Relaxation) -> None:
    """Make one required model field optional (absent = None), as the schema has it."""
    for cls in _models(relaxation.module, relaxation.model):
        field = cls.__fields__[relaxation.field]
        field.required = False
        field.allow_none = True
        field.default = None
        field.field_info.default = None


def rename_field(name: SchemaName) -> None:
    """Read and write one model field under the schema's element name."""
    for cls in _models(name.module, name.model):
        field = cls.__fields__[name.field]
        field.alias = name.schema_name
        field.field_info.alias = name.schema_name
        field.has_alias = True


def _drop_power_profile_rule() -> None:
    """Remove the model's EVPowerProfile rule (the schema has none; see
    ``_guard_power_delivery`` for what the standard does need)."""
    from iso15118.shared.messages.iso15118_20.common_messages import PowerDeliveryReq

    rule = "set_ev_power_profile_if_processing_finished_and_start_charging"
    for cls in _models(_COMMON_MESSAGES, "PowerDeliveryReq"):
        cls.__pre_root_validators__ = [
            v for v in cls.__pre_root_validators__ if v.__name__ != rule
        ]
    assert all(v.__name__ != rule for v in PowerDeliveryReq.__pre_root_validators__)


def power_delivery_refusal(request: Any, scheduled: bool) -> str | None:
    """Why a -20 PowerDeliveryReq cannot be processed, or None: in scheduled control
    mode, a Start with EVProcessing Finished must select a schedule tuple, which only
    EVPowerProfile/Scheduled_EVPPTControlMode carries (ISO 15118-20 8.3.4.3.8.2)."""
    from iso15118.shared.messages.iso15118_20.common_messages import ChargeProgress
    from iso15118.shared.messages.iso15118_20.common_types import Processing

    if not scheduled or request.ev_processing != Processing.FINISHED:
        return None
    if request.charge_progress != ChargeProgress.START:
        return None
    profile = request.ev_power_profile
    if profile is None or profile.scheduled_profile is None:
        return (
            "PowerDeliveryReq(Start) in scheduled control mode selects no schedule "
            "(EVPowerProfile/Scheduled_EVPPTControlMode absent)"
        )
    return None


def _guard_power_delivery() -> None:
    from iso15118.secc.states import iso15118_20_states
    from iso15118.shared.messages.enums import ControlMode
    from iso15118.shared.messages.iso15118_20.common_messages import PowerDeliveryReq
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode

    state = iso15118_20_states.PowerDelivery
    original: Any = getattr(state.process_message, "__v2g_original__", state.process_message)

    async def process_message(self: Any, message: Any, message_exi: bytes | None = None) -> None:
        if isinstance(message, PowerDeliveryReq):
            scheduled = self.comm_session.control_mode == ControlMode.SCHEDULED
            reason = power_delivery_refusal(message, scheduled)
            if reason is not None:
                code = ResponseCode.FAILED_SCHEDULE_SELECTION_INVALID
                logger.error("PowerDeliveryReq answered %s: %s", code.value, reason)
                self.stop_state_machine(reason, message, code)
                return
        await original(self, message, message_exi)

    process_message.__v2g_original__ = original  # type: ignore[attr-defined]
    state.process_message = process_message  # type: ignore[method-assign]


def _tolerate_text_in_base64_names() -> None:
    """The package base64-decodes every JSON field with certain names (GenChallenge,
    Value, ...) whatever its schema type; DIN's GenChallenge is a string, and text that
    is not base64 raised binascii.Error inside decoding, which no handler turned into
    an answer. Such a field is kept as the text it is, so the model judges it (DIN
    70121 9.4.1.4.2: "GenChallenge shall not be used"; the SECC ignores it)."""
    from iso15118.shared.exi_codec import CustomJSONDecoder

    original = getattr(CustomJSONDecoder.object_hook, "__v2g_original__", None)
    original = original or CustomJSONDecoder.object_hook

    def object_hook(self: Any, dct: dict[str, Any]) -> Any:
        text = {
            name: dct.pop(name)
            for name in list(dct)
            if name in self.base64_encoded_fields_set
            and isinstance(dct[name], str)
            and not _is_base64(dct[name])
        }
        decoded = original(self, dct)
        decoded.update(text)
        return decoded

    object_hook.__v2g_original__ = original  # type: ignore[attr-defined]
    CustomJSONDecoder.object_hook = object_hook  # type: ignore[method-assign]


def _refuse_empty_bodies() -> None:
    """A DIN or -2 body element the package has no field for (DIN: PaymentDetailsReq,
    ChargingStatusReq, ... which DIN SPEC 70121 does not use) is silently dropped by
    its model, leaving an empty Body that the states then fail on (AttributeError, no
    answer). Refused at decoding instead, so it is answered FAILED_SequenceError."""
    from iso15118.shared.exceptions import V2GMessageValidationError
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.din_spec.msgdef import V2GMessage as V2GMessageDin
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode
    from iso15118.shared.messages.iso15118_2.msgdef import V2GMessage as V2GMessageV2

    original = getattr(EXI.from_exi, "__v2g_original__", EXI.from_exi)

    def from_exi(self: Any, exi_message: bytes, namespace: str) -> Any:
        decoded = original(self, exi_message, namespace)
        if isinstance(decoded, V2GMessageDin | V2GMessageV2) and not str(decoded):
            raise V2GMessageValidationError(
                "the Body holds an element iso15118 has no model for", ResponseCode.FAILED, None
            )
        return decoded

    from_exi.__v2g_original__ = original  # type: ignore[attr-defined]
    EXI.from_exi = from_exi  # type: ignore[method-assign]


def _is_base64(text: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def requirement(reason: str) -> str:
    """The model's complaint on one line, without the decoded message it quotes."""
    text = reason.split("Decoded dict", maxsplit=1)[0].removeprefix("Validation error: ")
    return " ".join(text.split())[:400]


def refusal_code(message_type: Any) -> Any:
    """The response code for a request the SECC cannot process (DIN/-2/-20)."""
    from iso15118.shared.messages.app_protocol import ResponseCodeSAP
    from iso15118.shared.messages.din_spec.datatypes import ResponseCode as CodeDin
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode as CodeV2
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode as CodeV20

    module = getattr(message_type, "__module__", "")
    name = getattr(message_type, "__name__", "")
    if module.endswith(".app_protocol"):
        return ResponseCodeSAP.NEGOTIATION_FAILED
    wrong_parameter = bool(_CHARGE_PARAMETER_MESSAGES.search(name))
    codes: Any = CodeV2
    if ".din_spec." in module:
        codes = CodeDin
    elif ".iso15118_20." in module:
        codes = CodeV20
    return codes.FAILED_WRONG_CHARGE_PARAMETER if wrong_parameter else codes.FAILED


def _namespace(message_type: Any) -> Any:
    from iso15118.shared.messages.enums import Namespace

    module = getattr(message_type, "__module__", "")
    if ".din_spec." in module:
        return Namespace.DIN_MSG_DEF
    if ".iso15118_20." in module:
        return Namespace.ISO_V20_COMMON_MSG
    if ".iso15118_2." in module:
        return Namespace.ISO_V2_MSG_DEF
    return Namespace.SAP


def _answering_invalid_requests(process_message: Any) -> Any:
    """Wrap the SECC session's message processing: a request the models refuse is
    answered with the standard's negative response code (then the session stops, as
    after any FAILED code) instead of dropping the connection unanswered; a request
    the package has no model for is answered FAILED_SequenceError."""
    from iso15118.shared.exceptions import EXIDecodingError, V2GMessageValidationError

    original = getattr(process_message, "__v2g_original__", process_message)

    async def answering(self: Any, message: bytes) -> None:
        try:
            await original(self, message)
        except V2GMessageValidationError as error:
            if error.message is None:
                if not answer_unmodelled(self, message):
                    raise
                return
            code = refusal_code(error.message)
            what = requirement(error.reason)
            logger.error(
                "%s answered %s: %s",
                getattr(error.message, "__name__", "request"),
                code.value,
                what,
            )
            try:
                self.current_state.stop_state_machine(
                    what,
                    None,
                    code,
                    message_body_type=error.message,
                    namespace=_namespace(error.message),
                )
            except Exception as failure:
                # The package's failed-response templates hold values some schemas
                # cannot carry (DIN SessionSetupRes EVSEID "Not supported" as
                # hexBinary): the minimal schema answer carries the same code.
                logger.debug("iso15118's failed response cannot be sent: %s", failure)
                if not answer_minimal(self, message, code.value, what, log=False):
                    raise error from failure
        except EXIDecodingError as error:
            if "Unable to decode" not in str(error) or not answer_unmodelled(self, message):
                raise

    answering.__v2g_original__ = original  # type: ignore[attr-defined]
    return answering


#: DIN SPEC 70121, ISO 15118-2 and -20 all spell it so.
SEQUENCE_ERROR: Final = "FAILED_SequenceError"


def sequence_error_answer(
    namespace: str, request: str, session_id: str, timestamp_s: int
) -> dict[str, Any]:
    """The minimal schema-valid response to ``request`` with FAILED_SequenceError."""
    return coded_answer(namespace, request, SEQUENCE_ERROR, session_id, timestamp_s)


def coded_answer(
    namespace: str, request: str, code: str, session_id: str, timestamp_s: int
) -> dict[str, Any]:
    """The minimal schema-valid response to ``request`` with ResponseCode ``code``, in
    the codec's JSON shape (raises ``NoSuchMessage`` if the schema has no response)."""
    from v2g.exi.minimal import minimal_message
    from v2g.exi.schemas import DIN, ISO2

    response = request.removesuffix("Req") + "Res"
    document = minimal_message(namespace, response)
    if namespace in (DIN, ISO2):
        document["V2G_Message"]["Header"]["SessionID"] = session_id
        document["V2G_Message"]["Body"][response]["ResponseCode"] = code
    else:
        document[response]["Header"] = {"SessionID": session_id, "TimeStamp": timestamp_s}
        document[response]["ResponseCode"] = code
    return document


def answer_unmodelled(session: Any, frame: bytes) -> bool:
    """Answer a request iso15118 has no model for (-20 MeteringConfirmation,
    VehicleCheckIn/Out, WPT, ACDP; DIN bodies DIN SPEC 70121 does not use) with
    FAILED_SequenceError and stop the session; False if it cannot be answered."""
    return answer_minimal(session, frame, SEQUENCE_ERROR, "iso15118 has no model for it")


def answer_minimal(session: Any, frame: bytes, code: str, reason: str, log: bool = True) -> bool:
    """Answer the request in ``frame`` with the minimal schema-valid response carrying
    ``code`` and stop the session; False if no such answer can be built."""
    import json
    import time

    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.v2gtp import V2GTPMessage
    from iso15118.shared.notifications import StopNotification
    from iso15118.shared.states import Terminate

    from v2g.secc.codec import message_name

    try:
        v2gtp = V2GTPMessage.from_bytes(session.comm_session.protocol, frame)
        namespace = str.__str__(session.get_exi_ns(v2gtp.payload_type))
        codec = EXI().get_exi_codec()
        request, _ = message_name(codec.decode(v2gtp.payload, namespace))
        if not request.endswith("Req"):
            return False
        session_id = session.comm_session.session_id or "00"
        answer = coded_answer(namespace, request, code, session_id, int(time.time()))
        payload = codec.encode(json.dumps(answer), namespace)
    except Exception as error:  # the session ends as before; the log says why
        logger.error("cannot answer a request the SECC cannot process: %s", error)
        return False
    summary = f"{request} answered {code}: {reason}"
    if log:
        logger.error("%s (%s)", summary, namespace)
    state = session.current_state
    state.next_v2gtp_msg = V2GTPMessage(session.comm_session.protocol, v2gtp.payload_type, payload)
    state.next_state = Terminate
    session.comm_session.stop_reason = StopNotification(
        False, summary, session.comm_session.writer.get_extra_info("peername")
    )
    return True
