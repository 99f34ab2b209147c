"""OCPP-J frames and the official schemas: what is taken, and how what is not is answered."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.ocpp import schemas
from v2g.ocpp.frames import (
    Call,
    CallError,
    CallResult,
    ErrorCode,
    FrameError,
    OcppVersion,
    Send,
    encode,
    parse_frame,
)

V201, V21 = OcppVersion.V201, OcppVersion.V21

ids = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=36)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


@given(ids, st.from_regex(r"[A-Za-z]{1,30}", fullmatch=True), payloads)
def test_a_call_survives_the_wire_unchanged(message_id: str, action: str, payload: dict) -> None:
    call = Call(message_id, action, payload)
    assert parse_frame(encode(call), V201) == call


@given(ids, payloads)
def test_results_and_errors_survive_the_wire_unchanged(message_id: str, payload: dict) -> None:
    assert parse_frame(encode(CallResult(message_id, payload)), V21) == CallResult(
        message_id, payload
    )
    error = CallError(message_id, ErrorCode.NOT_SUPPORTED, "no", {"k": 1}, about_result=True)
    assert parse_frame(encode(error), V21) == error


@pytest.mark.parametrize(
    ("text", "code", "message_id"),
    [
        ("not json", ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
        ('{"a": 1}', ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
        ("[2]", ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
        ('[2, 17, "Heartbeat", {}]', ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
        ('[2, "' + "x" * 37 + '", "Heartbeat", {}]', ErrorCode.RPC_FRAMEWORK_ERROR, "-1"),
        ('[7, "m", "Heartbeat", {}]', ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "m"),
        ('[[2], "m", "Heartbeat", {}]', ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "m"),
        ('[true, "m", "Heartbeat", {}]', ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "m"),
        ('[2, "m", "Heartbeat"]', ErrorCode.RPC_FRAMEWORK_ERROR, "m"),
        ('[2, "m", "", {}]', ErrorCode.RPC_FRAMEWORK_ERROR, "m"),
        ('[2, "m", "Heartbeat", []]', ErrorCode.FORMAT_VIOLATION, "m"),
        ('[2, "m", "Heartbeat", "payload"]', ErrorCode.FORMAT_VIOLATION, "m"),
    ],
)
def test_a_malformed_frame_says_which_error_answers_it_and_under_which_id(
    text: str, code: ErrorCode, message_id: str
) -> None:
    with pytest.raises(FrameError) as raised:
        parse_frame(text, V21)
    assert raised.value.code is code
    assert raised.value.call_error().message_id == message_id


def test_send_and_callresulterror_exist_in_21_only() -> None:
    assert parse_frame('[6, "s", "NotifyPeriodicEventStream", {}]', V21) == Send(
        "s", "NotifyPeriodicEventStream", {}
    )
    for text in ('[6, "s", "NotifyPeriodicEventStream", {}]', '[5, "s", "GenericError", "", {}]'):
        with pytest.raises(FrameError) as raised:
            parse_frame(text, V201)
        assert raised.value.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED


def test_a_broken_result_is_not_answered() -> None:
    with pytest.raises(FrameError) as raised:
        parse_frame('[3, "m", {}, "extra"]', V21)
    assert raised.value.answer is False


def test_errors_are_encoded_as_callerror_or_callresulterror() -> None:
    assert json.loads(encode(CallError("m", ErrorCode.GENERIC_ERROR, "why"))) == [
        4,
        "m",
        "GenericError",
        "why",
        {},
    ]
    assert json.loads(encode(CallError("m", "GenericError", "why", about_result=True)))[0] == 5


BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


@pytest.mark.parametrize("version", [V201, V21])
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"reason": "PowerUp"}, ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
        (
            {**BOOT, "chargingStation": {"model": 7, "vendorName": "V"}},
            ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        ),
        ({**BOOT, "reason": "Bored"}, ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
        (
            {**BOOT, "chargingStation": {"model": "M" * 21, "vendorName": "V"}},
            ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        ),
        ({**BOOT, "surprise": True}, ErrorCode.FORMAT_VIOLATION),
    ],
)
def test_a_payload_breaking_the_official_schema_gets_the_matching_error_code(
    version: OcppVersion, payload: dict, code: ErrorCode
) -> None:
    schemas.check(version, "BootNotification", "Request", BOOT)
    with pytest.raises(schemas.PayloadError) as raised:
        schemas.check(version, "BootNotification", "Request", payload)
    assert raised.value.code is code


@pytest.mark.parametrize("version", [V201, V21])
def test_an_unknown_action_is_not_implemented(version: OcppVersion) -> None:
    for action in ("TeleportVehicle", "../BootNotification", "Boot Notification"):
        assert not schemas.knows(version, action)
        with pytest.raises(schemas.PayloadError) as raised:
            schemas.check(version, action, "Request", {})
        assert raised.value.code is ErrorCode.NOT_IMPLEMENTED


def test_21_knows_its_new_actions_and_201_does_not() -> None:
    assert schemas.knows(V21, "NotifyDERAlarm")
    assert not schemas.knows(V201, "NotifyDERAlarm")
