"""Every request the schemas allow is accepted or answered with a response code
(issue 20); the cases the issue names, each by name."""

from __future__ import annotations

import copy
import json
import logging
import types
from types import SimpleNamespace
from typing import Any

import pytest
from iso15118.shared.exceptions import V2GMessageValidationError
from iso15118.shared.messages.enums import Namespace

from tests.conformance.instances import MESSAGE_NAMESPACES, Instance, instances
from tests.conformance.sweep import ACCEPTED, ANSWERED, judge, prepare, sweep
from v2g.exi import codec as native
from v2g.exi.schemas import DIN, ISO2, ISO20_AC, ISO20_COMMON, ISO20_DC, ISO20_WPT
from v2g.secc import schema_conformance
from v2g.secc.schema_conformance import install_schema_conformance, power_delivery_refusal

#: Requests iso15118 0.31.2 has no model for, answered FAILED_SequenceError from the
#: schema (``answer_unmodelled``). DIN: bodies DIN SPEC 70121 does not use (it is DC
#: and EIM only); -20: WPT and ACDP are never offered.
UNMODELLED = {
    "MeteringConfirmationReq",
    "VehicleCheckInReq",
    "VehicleCheckOutReq",
    "PaymentDetailsReq",
    "ServiceDetailReq",
    "ChargingStatusReq",
    "MeteringReceiptReq",
    "CertificateUpdateReq",
    "CertificateInstallationReq",
}
SECC_NAMESPACES = (DIN, ISO2, ISO20_COMMON, ISO20_AC, ISO20_DC)


@pytest.fixture(scope="module")
def exi() -> Any:
    return prepare()


@pytest.fixture(scope="module")
def outcomes() -> list[Any]:
    return list(sweep("Req"))


def _instance(namespace: str, message: str, kind: str, variant: int = 0) -> Instance:
    for instance in instances(namespace, message[-3:]):
        if (instance.message, instance.kind, instance.variant) == (message, kind, variant):
            return instance
    raise LookupError(f"{message} {kind}#{variant}")


@pytest.mark.parametrize("direction", ["Req", "Res"])
@pytest.mark.parametrize("namespace", MESSAGE_NAMESPACES)
def test_every_generated_instance_is_schema_valid_and_decodes_to_itself(namespace, direction):
    generated = list(instances(namespace, direction))
    assert {i.kind for i in generated} >= {"minimal", "maximal"} or all(
        i.kind != "maximal" for i in generated
    )
    for instance in generated:
        stream = native.encode(instance.document, namespace)
        assert native.decode(stream, namespace) == instance.document, instance.label


def test_every_request_is_accepted_or_answered_with_a_code(outcomes):
    assert [o.instance.label for o in outcomes if o.verdict not in (ACCEPTED, ANSWERED)] == []
    sequence_errors = {
        o.instance.message
        for o in outcomes
        if o.detail.startswith("FAILED_SequenceError") and o.instance.namespace in SECC_NAMESPACES
    }
    assert sequence_errors == UNMODELLED
    assert len(outcomes) > 200  # minimal, outer and maximal of about 80 requests


#: Minimal instances the standard's text forbids: DIN SPEC 70121 is DC only, and the
#: schema's first EVChargeParameter member is AC_EVChargeParameter.
FORBIDDEN_MINIMAL = {(DIN, "ChargeParameterDiscoveryReq")}


def test_every_minimal_request_with_a_model_is_accepted(outcomes):
    refused = [
        (o.instance.label, o.detail)
        for o in outcomes
        if o.instance.kind == "minimal"
        and o.instance.namespace in SECC_NAMESPACES
        and o.instance.message not in UNMODELLED
        and not o.instance.message.startswith(("WPT", "ACDP"))
        and (o.instance.namespace, o.instance.message) not in FORBIDDEN_MINIMAL
        and o.verdict != ACCEPTED
    ]
    assert refused == []


@pytest.mark.parametrize("direction", ["Req", "Res"])
def test_every_accepted_message_is_written_back_unchanged_by_the_models(direction):
    """The models neither drop nor rename an element the schema allows (how the SECC
    builds every answer: model -> JSON -> EXI)."""
    changed = [
        (o.instance.label, o.round_trip)
        for o in sweep(direction)
        if o.verdict == ACCEPTED and o.round_trip
    ]
    assert changed == []


def test_scheduled_power_profile_without_power_tolerance_acceptance_is_accepted(exi):
    instance = _instance(ISO20_COMMON, "PowerDeliveryReq", "outer", 1)
    profile = instance.document["PowerDeliveryReq"]["EVPowerProfile"]
    assert "PowerToleranceAcceptance" not in profile["Scheduled_EVPPTControlMode"]
    assert judge(exi, instance).verdict == ACCEPTED


def test_charge_loop_display_parameters_without_charging_complete_are_accepted(exi):
    for namespace, message in ((ISO20_DC, "DC_ChargeLoopReq"), (ISO20_AC, "AC_ChargeLoopReq")):
        instance = _instance(namespace, message, "outer", 0)
        assert "ChargingComplete" not in instance.document[message]["DisplayParameters"]
        assert judge(exi, instance).verdict == ACCEPTED


def test_power_delivery_start_finished_without_power_profile_is_accepted(exi):
    instance = _instance(ISO20_COMMON, "PowerDeliveryReq", "minimal")
    body = instance.document["PowerDeliveryReq"]
    assert (body["EVProcessing"], body["ChargeProgress"]) == ("Finished", "Start")
    assert "EVPowerProfile" not in body
    assert judge(exi, instance).verdict == ACCEPTED


def test_power_delivery_start_in_scheduled_mode_needs_a_selected_schedule(exi):
    stream = native.encode(
        _instance(ISO20_COMMON, "PowerDeliveryReq", "minimal").document, ISO20_COMMON
    )
    request = exi.from_exi(stream, ISO20_COMMON)
    assert power_delivery_refusal(request, scheduled=False) is None
    reason = power_delivery_refusal(request, scheduled=True)
    assert reason is not None and "EVPowerProfile" in reason
    with_profile = exi.from_exi(
        native.encode(
            _instance(ISO20_COMMON, "PowerDeliveryReq", "outer", 1).document, ISO20_COMMON
        ),
        ISO20_COMMON,
    )
    assert power_delivery_refusal(with_profile, scheduled=True) is None


def test_din_gen_challenge_text_is_judged_by_the_model_not_a_decoding_crash(exi):
    """DIN's GenChallenge is a string; the package base64-decoded it whatever it was
    and raised binascii.Error, which ended the session unanswered."""
    document = copy.deepcopy(_instance(DIN, "ContractAuthenticationReq", "outer", 0).document)
    document["V2G_Message"]["Body"]["ContractAuthenticationReq"]["GenChallenge"] = "not base64!"
    outcome = judge(exi, Instance(DIN, "ContractAuthenticationReq", "outer", 0, document))
    assert outcome.verdict == ACCEPTED


def test_meter_info_is_written_under_the_schema_names(exi):
    """[issue 20] the controller's MeterInfo for -20 (discharged energy included) is
    encoded under BPT_DischargedEnergyReadingWh; the package's name is refused by the
    schema's grammar."""
    from iso15118.shared.messages.iso15118_20.common_types import MeterInfo

    meter = MeterInfo(
        meter_id="DE*V2G*E0001-meter",
        charged_energy_reading_wh=1200,
        bpt_discharged_energy_reading_wh=300,
        bpt_inductive_energy_reading_varh=7,
        meter_timestamp=1,
    )
    written = meter.dict(by_alias=True, exclude_none=True)
    assert written["BPT_DischargedEnergyReadingWh"] == 300
    assert written["BPT_InductiveEnergyReadingVARh"] == 7
    minimal = _instance(ISO20_DC, "DC_ChargeLoopRes", "minimal").document
    response = exi.from_exi(native.encode(minimal, ISO20_DC), ISO20_DC)
    with_meter = response.copy(update={"meter_info": meter})
    sent = native.decode(exi.to_exi(with_meter, ISO20_DC), ISO20_DC)
    assert sent["DC_ChargeLoopRes"]["MeterInfo"]["BPT_DischargedEnergyReadingWh"] == 300


def test_install_is_idempotent():
    from iso15118.secc.comm_session_handler import SECCCommunicationSession

    install_schema_conformance()
    wrapped = SECCCommunicationSession.process_message
    install_schema_conformance()
    assert SECCCommunicationSession.process_message is wrapped


# -- a refused request is answered --------------------------------------------------


class _Writer:
    def get_extra_info(self, name: str) -> Any:
        return ("fe80::1", 15118)


def _comm_session(namespace: str) -> Any:
    from iso15118.secc.failed_responses import (
        init_failed_responses_din_spec_70121,
        init_failed_responses_iso_v2,
        init_failed_responses_iso_v20,
    )
    from iso15118.shared.messages.enums import Protocol

    protocol = {DIN: Protocol.DIN_SPEC_70121, ISO2: Protocol.ISO_15118_2}.get(
        namespace, Protocol.ISO_15118_20_DC
    )
    return SimpleNamespace(
        protocol=protocol,
        session_id="0102030405060708",
        stop_reason=None,
        writer=_Writer(),
        failed_responses_din_spec=init_failed_responses_din_spec_70121(),
        failed_responses_isov2=init_failed_responses_iso_v2(),
        failed_responses_isov20=init_failed_responses_iso_v20(),
    )


@pytest.mark.parametrize(
    ("namespace", "message", "variant", "code"),
    [
        (ISO20_DC, "DC_ChargeLoopReq", 4, "FAILED_WrongChargeParameter"),
        (ISO2, "ChargeParameterDiscoveryReq", 1, "FAILED_WrongChargeParameter"),
        (DIN, "PowerDeliveryReq", 1, "FAILED"),
    ],
)
async def test_a_request_the_models_refuse_is_answered_with_the_code_and_one_log_line(
    exi, caplog, namespace, message, variant, code
):
    from iso15118.secc.states.secc_state import StateSECC

    instance = _instance(namespace, message, "maximal" if namespace != DIN else "outer", variant)
    stream = native.encode(instance.document, namespace)
    with pytest.raises(V2GMessageValidationError) as refused:
        exi.from_exi(stream, namespace)

    class Probe(StateSECC):  # type: ignore[misc]
        async def process_message(self, message: Any, message_exi: bytes | None = None) -> None:
            raise AssertionError("not reached")

    session = SimpleNamespace(comm_session=_comm_session(namespace))
    session.current_state = Probe(session.comm_session)

    async def refuse(self: Any, message: bytes) -> None:
        raise refused.value

    answering = schema_conformance._answering_invalid_requests(refuse)
    with caplog.at_level(logging.ERROR, logger="v2g.secc.schema_conformance"):
        await answering(session, b"frame")
    lines = [r for r in caplog.records if r.name == "v2g.secc.schema_conformance"]
    assert len(lines) == 1 and code in lines[0].getMessage()
    assert "\n" not in lines[0].getMessage()
    state = session.current_state
    assert state.next_state.__name__ == "Terminate"
    payload = state.next_v2gtp_msg.payload
    decoded = native.decode(payload, namespace)
    assert f'"ResponseCode": "{code}"' in json.dumps(decoded)
    stop = session.comm_session.stop_reason
    assert stop is not None and not stop.successful


async def test_an_error_other_than_a_refusal_still_ends_the_session():
    async def broken(self: Any, message: bytes) -> None:
        raise RuntimeError("socket gone")

    answering = schema_conformance._answering_invalid_requests(broken)
    with pytest.raises(RuntimeError):
        await answering(SimpleNamespace(), b"frame")


# -- a request iso15118 has no model for is answered ------------------------------


def _state_machine(namespace: str) -> Any:
    """What ``answer_unmodelled`` reads of a SECC communication session."""
    from iso15118.shared.comm_session import SessionStateMachine
    from iso15118.shared.messages.enums import ISOV20PayloadTypes

    machine = _comm_session(namespace)
    machine.comm_session = machine
    machine.current_state = SimpleNamespace(next_v2gtp_msg=None, next_state=None)
    machine.v20_payload_type_to_namespace = {
        ISOV20PayloadTypes.AC_MAINSTREAM: Namespace.ISO_V20_AC,
        ISOV20PayloadTypes.DC_MAINSTREAM: Namespace.ISO_V20_DC,
        ISOV20PayloadTypes.ACDP_MAINSTREAM: Namespace.ISO_V20_ACDP,
        ISOV20PayloadTypes.WPT_MAINSTREAM: Namespace.ISO_V20_WPT,
    }
    machine.get_exi_ns = types.MethodType(SessionStateMachine.get_exi_ns, machine)
    return machine


@pytest.mark.parametrize(
    ("namespace", "message", "payload_type"),
    [
        (ISO20_COMMON, "MeteringConfirmationReq", "MAINSTREAM"),
        (ISO20_COMMON, "VehicleCheckOutReq", "MAINSTREAM"),
        (ISO20_WPT, "WPT_ChargeLoopReq", "WPT_MAINSTREAM"),
        (DIN, "PaymentDetailsReq", None),
    ],
)
async def test_a_request_without_a_model_is_answered_sequence_error(
    exi, caplog, namespace, message, payload_type
):
    from iso15118.shared.messages.enums import (
        DINPayloadTypes,
        ISOV20PayloadTypes,
    )
    from iso15118.shared.messages.v2gtp import V2GTPMessage

    machine = _state_machine(namespace)
    kind = (
        DINPayloadTypes.EXI_ENCODED if payload_type is None else ISOV20PayloadTypes[payload_type]
    )
    # DIN's minimal PaymentDetailsReq parses as an empty Body (its model ignores what
    # it does not know); the outer one carries a field and is refused without a type.
    document = _instance(namespace, message, "outer" if namespace == DIN else "minimal").document
    frame = V2GTPMessage(machine.protocol, kind, native.encode(document, namespace)).to_bytes()

    async def package(self: Any, received: bytes) -> None:  # what iso15118 does
        exi.from_exi(V2GTPMessage.from_bytes(self.protocol, received).payload, namespace)

    answering = schema_conformance._answering_invalid_requests(package)
    with caplog.at_level(logging.ERROR, logger="v2g.secc.schema_conformance"):
        await answering(machine, frame)
    lines = [r.getMessage() for r in caplog.records if r.name == "v2g.secc.schema_conformance"]
    assert len(lines) == 1 and message in lines[0] and "FAILED_SequenceError" in lines[0]
    sent = machine.current_state.next_v2gtp_msg
    assert sent.payload_type == kind
    answer = json.dumps(native.decode(sent.payload, namespace))
    assert '"ResponseCode": "FAILED_SequenceError"' in answer
    assert '"SessionID": "0102030405060708"' in answer
    assert machine.current_state.next_state.__name__ == "Terminate"
    assert not machine.stop_reason.successful


async def test_a_frame_that_cannot_be_answered_still_ends_the_session(exi):
    """Garbage that merely looks unmodelled is not answered with invented content."""
    from iso15118.shared.exceptions import EXIDecodingError

    machine = _state_machine(ISO20_COMMON)

    async def package(self: Any, received: bytes) -> None:
        raise EXIDecodingError("EXI decoding error: Unable to decode SomethingReq")

    answering = schema_conformance._answering_invalid_requests(package)
    with pytest.raises(EXIDecodingError):
        await answering(machine, b"\x01\xfe\x80\x01\x00\x00\x00\x02\xff\xff")
    assert machine.current_state.next_v2gtp_msg is None


def test_a_refusal_whose_package_answer_cannot_be_encoded_gets_the_minimal_answer(exi):
    """Found by the property test: DIN SessionSetupReq with an empty EVCCID is refused
    by the model, and the package's failed SessionSetupRes carries EVSEID "Not
    supported" in a hexBinary element, which no codec can encode: the SECC sends the
    minimal schema answer with the same code instead."""
    document = {
        "V2G_Message": {"Header": {"SessionID": ""}, "Body": {"SessionSetupReq": {"EVCCID": ""}}}
    }
    outcome = judge(exi, Instance(DIN, "SessionSetupReq", "drawn", 0, document))
    assert outcome.verdict == ANSWERED and outcome.detail.startswith("FAILED:"), outcome.detail
