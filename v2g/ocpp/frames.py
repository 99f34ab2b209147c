"""OCPP-J RPC frames (OCPP 2.0.1 and 2.1 part 4, "JSON over WebSockets").

A frame is a JSON array: ``[2, id, action, payload]`` CALL, ``[3, id, payload]``
CALLRESULT, ``[4, id, code, description, details]`` CALLERROR and, in 2.1 only,
``[5, id, code, description, details]`` CALLRESULTERROR and ``[6, id, action, payload]``
SEND. Parsing is pure: text in, a frame or a ``FrameError`` that already says how to
answer it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

#: OCPP-J 2.0.1 §4.1.3: a message id is a string of at most 36 characters.
MAX_MESSAGE_ID_LENGTH = 36
#: OCPP-J 2.0.1 §4.2.3: when a CALL's message id cannot be read, the CALLERROR uses "-1".
UNREADABLE_ID = "-1"


class OcppVersion(StrEnum):
    """The OCPP version a connection speaks, as its WebSocket subprotocol names it."""

    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5  # 2.1 only
    SEND = 6  # 2.1 only


class ErrorCode(StrEnum):
    """RPC error codes of OCPP-J 2.0.1 §4.3 (2.0.1 spells FormatViolation, where 1.6
    had the typo FormationViolation)."""

    FORMAT_VIOLATION = "FormatViolation"
    GENERIC_ERROR = "GenericError"
    INTERNAL_ERROR = "InternalError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PROTOCOL_ERROR = "ProtocolError"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    SECURITY_ERROR = "SecurityError"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


@dataclass(frozen=True, slots=True)
class Call:
    """A request that wants an answer (CALLRESULT or CALLERROR)."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Send:
    """A 2.1 request that wants no answer (periodic event streams)."""

    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    """A CALL refused (or, as CALLRESULTERROR in 2.1, a CALLRESULT refused)."""

    message_id: str
    code: ErrorCode | str
    description: str
    details: dict[str, Any] = field(default_factory=dict)
    about_result: bool = False


Frame = Call | Send | CallResult | CallError


class FrameError(ValueError):
    """A frame that cannot be taken. ``message_id`` is what the answer carries
    (``"-1"`` when unreadable); ``answer`` is False when the sender expects none."""

    def __init__(
        self,
        code: ErrorCode,
        description: str,
        message_id: str = UNREADABLE_ID,
        answer: bool = True,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.message_id = message_id
        self.answer = answer

    def call_error(self) -> CallError:
        return CallError(self.message_id, self.code, self.description[:255])


def parse_frame(text: str | bytes, version: OcppVersion) -> Frame:
    """The frame in ``text`` (raises FrameError saying how to answer)."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, f"not JSON: {error}") from error
    if not isinstance(data, list) or len(data) < 3:
        raise FrameError(ErrorCode.RPC_FRAMEWORK_ERROR, "a frame is a JSON array of 3 to 5 items")
    kind, message_id = data[0], data[1]
    if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            f"message id must be a string of 1..{MAX_MESSAGE_ID_LENGTH} characters",
        )
    known = {m.value for m in MessageType}
    if version is OcppVersion.V201:
        known -= {MessageType.CALLRESULTERROR, MessageType.SEND}
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in known:
        raise FrameError(
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {kind!r} is not one of {sorted(known)} in {version}",
            message_id,
        )
    return _frame_of(MessageType(kind), message_id, data)


def _frame_of(kind: MessageType, message_id: str, data: list[Any]) -> Frame:
    expects_answer = kind is MessageType.CALL
    if kind in (MessageType.CALL, MessageType.SEND):
        if len(data) != 4 or not isinstance(data[2], str) or not data[2]:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                "a CALL is [2, id, action, payload]",
                message_id,
                expects_answer,
            )
        payload = _payload(data[3], message_id, expects_answer)
        if kind is MessageType.CALL:
            return Call(message_id, data[2], payload)
        return Send(message_id, data[2], payload)
    if kind is MessageType.CALLRESULT:
        if len(data) != 3:
            raise FrameError(
                ErrorCode.RPC_FRAMEWORK_ERROR,
                "a CALLRESULT is [3, id, payload]",
                message_id,
                False,
            )
        return CallResult(message_id, _payload(data[2], message_id, False))
    if len(data) != 5 or not isinstance(data[2], str) or not isinstance(data[3], str):
        raise FrameError(
            ErrorCode.RPC_FRAMEWORK_ERROR,
            "a CALLERROR is [4, id, code, description, details]",
            message_id,
            False,
        )
    details = data[4] if isinstance(data[4], dict) else {}
    return CallError(
        message_id, data[2], data[3], details, about_result=kind is MessageType.CALLRESULTERROR
    )


def _payload(value: Any, message_id: str, answer: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FrameError(
            ErrorCode.FORMAT_VIOLATION, "the payload must be a JSON object", message_id, answer
        )
    return value


def encode(frame: Frame) -> str:
    """The wire text of ``frame``."""
    match frame:
        case Call():
            data: list[Any] = [MessageType.CALL, frame.message_id, frame.action, frame.payload]
        case Send():
            data = [MessageType.SEND, frame.message_id, frame.action, frame.payload]
        case CallResult():
            data = [MessageType.CALLRESULT, frame.message_id, frame.payload]
        case CallError():
            kind = MessageType.CALLRESULTERROR if frame.about_result else MessageType.CALLERROR
            data = [kind, frame.message_id, str(frame.code), frame.description, frame.details]
    return json.dumps(data, separators=(",", ":"), allow_nan=False)
