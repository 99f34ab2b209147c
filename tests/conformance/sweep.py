"""Runs the generated instances through the SECC's decode-and-validate path.

Requests (EV to SECC): EXI-encoded by the native codec, then decoded and validated by
iso15118's ``EXI().from_exi`` exactly as the SECC does, with the product's schema
conformance installed. Each is *accepted* (the state machine gets the model),
*answered* with a negative response code (the model refuses it; see
``v2g.secc.schema_conformance``) or *unanswered* (the package has no model for it:
the session ends without an answer).

Every message, both directions, is also read into the package's model and written
back (``to_exi``): the result must decode to the same document, so no element the
schema allows is dropped or renamed by the models (this is how the SECC builds every
response it sends).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.conformance.instances import MESSAGE_NAMESPACES, Instance, instances
from v2g.exi import codec as native
from v2g.exi.codec import NativeExiCodec

ACCEPTED = "accepted"
ANSWERED = "answered"
UNANSWERED = "unanswered"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the SECC's validation path made of one instance."""

    instance: Instance
    verdict: str  # ACCEPTED, ANSWERED or UNANSWERED
    #: The response code for ANSWERED, the reason otherwise (empty when accepted).
    detail: str = ""
    #: The model read and written back differs from the instance (names dropped or
    #: renamed), or cannot be written: the difference, else "".
    round_trip: str = ""


def prepare() -> Any:
    """iso15118's EXI singleton on the native codec, the product's settings and its
    schema conformance installed; returns the EXI object."""
    from iso15118.shared.exi_codec import EXI

    from v2g.secc.schema_conformance import install_schema_conformance
    from v2g.secc.station import apply_shared_settings

    apply_shared_settings()
    install_schema_conformance()
    exi = EXI()
    exi.set_exi_codec(NativeExiCodec())
    return exi


def judge(exi: Any, instance: Instance) -> Outcome:
    """Decode and validate one instance as the SECC would; a refused one is handed to
    the SECC's answering path (``v2g.secc.schema_conformance``) on a stand-in session,
    and the answer it would send is decoded: its ResponseCode is the verdict."""
    from iso15118.shared.exceptions import EXIDecodingError, V2GMessageValidationError

    from v2g.secc.schema_conformance import requirement

    stream = native.encode(instance.document, instance.namespace)
    logging.disable(logging.CRITICAL)  # the package logs every refusal at ERROR
    try:
        model = exi.from_exi(stream, instance.namespace)
    except V2GMessageValidationError as error:
        if not instance.message.endswith("Req"):  # a response: only the EV reads it
            verdict = ANSWERED if error.message is not None else UNANSWERED
            return Outcome(instance, verdict, f"refused: {requirement(error.reason)}")
        return answered(exi, instance, stream, requirement(error.reason))
    except EXIDecodingError as error:
        if "Unable to decode" in str(error) and instance.message.endswith("Req"):
            return answered(exi, instance, stream, "iso15118 has no model for it")
        return Outcome(instance, UNANSWERED, str(error).split("\n")[0])
    except Exception as error:  # what the SECC would die of is the finding
        return Outcome(instance, UNANSWERED, f"{type(error).__name__}: {error}")
    finally:
        logging.disable(logging.NOTSET)
    return Outcome(instance, ACCEPTED, "", round_trip(exi, model, instance))


_PAYLOAD_TYPES = {
    "urn:iso:std:iso:15118:-20:CommonMessages": "MAINSTREAM",
    "urn:iso:std:iso:15118:-20:AC": "AC_MAINSTREAM",
    "urn:iso:std:iso:15118:-20:DC": "DC_MAINSTREAM",
    "urn:iso:std:iso:15118:-20:WPT": "WPT_MAINSTREAM",
    "urn:iso:std:iso:15118:-20:ACDP": "ACDP_MAINSTREAM",
}


def stand_in_session(namespace: str) -> Any:
    """What the SECC's answering path reads of an iso15118 communication session, for
    a session in ``namespace``'s protocol, in the state that received the request."""
    from types import MethodType, SimpleNamespace

    from iso15118.secc.failed_responses import (
        init_failed_responses_din_spec_70121,
        init_failed_responses_iso_v2,
        init_failed_responses_iso_v20,
    )
    from iso15118.secc.states.secc_state import StateSECC
    from iso15118.shared.comm_session import SessionStateMachine
    from iso15118.shared.messages.enums import ISOV20PayloadTypes, Namespace, Protocol

    class Received(StateSECC):  # type: ignore[misc]
        async def process_message(self, message: Any, message_exi: bytes | None = None) -> None:
            raise AssertionError("the stand-in state processes nothing")

    protocol = {
        "urn:din:70121:2012:MsgDef": Protocol.DIN_SPEC_70121,
        "urn:iso:15118:2:2013:MsgDef": Protocol.ISO_15118_2,
        "urn:iso:std:iso:15118:-20:AC": Protocol.ISO_15118_20_AC,
    }.get(namespace, Protocol.ISO_15118_20_DC)
    session = SimpleNamespace(
        protocol=protocol,
        session_id="0102030405060708",
        stop_reason=None,
        writer=SimpleNamespace(get_extra_info=lambda name: ("fe80::1", 15118)),
        failed_responses_din_spec=init_failed_responses_din_spec_70121(),
        failed_responses_isov2=init_failed_responses_iso_v2(),
        failed_responses_isov20=init_failed_responses_iso_v20(),
        v20_payload_type_to_namespace={
            ISOV20PayloadTypes.AC_MAINSTREAM: Namespace.ISO_V20_AC,
            ISOV20PayloadTypes.DC_MAINSTREAM: Namespace.ISO_V20_DC,
            ISOV20PayloadTypes.ACDP_MAINSTREAM: Namespace.ISO_V20_ACDP,
            ISOV20PayloadTypes.WPT_MAINSTREAM: Namespace.ISO_V20_WPT,
        },
    )
    session.comm_session = session
    session.get_exi_ns = MethodType(SessionStateMachine.get_exi_ns, session)
    session.current_state = Received(session)
    return session


def frame(namespace: str, stream: bytes, protocol: Any) -> bytes:
    """The V2GTP frame an EV sends ``stream`` in."""
    from iso15118.shared.messages.enums import DINPayloadTypes, ISOV20PayloadTypes
    from iso15118.shared.messages.v2gtp import V2GTPMessage

    kind: Any = DINPayloadTypes.EXI_ENCODED
    if namespace in _PAYLOAD_TYPES:
        kind = ISOV20PayloadTypes[_PAYLOAD_TYPES[namespace]]
    return bytes(V2GTPMessage(protocol, kind, stream).to_bytes())


def answered(exi: Any, instance: Instance, stream: bytes, reason: str) -> Outcome:
    """Run the SECC's answering path on the refused request; the ResponseCode of the
    answer it would send, or UNANSWERED if it would send none."""
    import asyncio
    import re

    from iso15118.shared.messages.v2gtp import V2GTPMessage

    from v2g.secc.schema_conformance import _answering_invalid_requests

    session = stand_in_session(instance.namespace)

    async def package(self: Any, received: bytes) -> None:  # iso15118's decode step
        payload = V2GTPMessage.from_bytes(self.protocol, received).payload
        exi.from_exi(payload, instance.namespace)

    answering = _answering_invalid_requests(package)
    try:
        asyncio.run(answering(session, frame(instance.namespace, stream, session.protocol)))
        sent = session.current_state.next_v2gtp_msg
        answer = json.dumps(native.decode(sent.payload, instance.namespace))
    except Exception as error:  # no answer: the session would end unanswered
        return Outcome(instance, UNANSWERED, f"{type(error).__name__}: {error}")
    found = re.search(r'"ResponseCode": "([^"]+)"', answer)
    code = found.group(1) if found else "?"
    return Outcome(instance, ANSWERED, f"{code}: {reason}")


def round_trip(exi: Any, model: Any, instance: Instance) -> str:
    """ "" if the model writes back exactly the instance, else what differs."""
    try:
        written = native.decode(exi.to_exi(model, instance.namespace), instance.namespace)
    except Exception as error:
        return f"cannot be written: {error}"
    return difference(instance.document, written)


def difference(expected: Any, actual: Any, path: str = "") -> str:
    """The first place where two JSON documents differ, or ""."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() | actual.keys():
            if key not in actual:
                return f"{path}/{key} dropped"
            if key not in expected:
                return f"{path}/{key} added"
            found = difference(expected[key], actual[key], f"{path}/{key}")
            if found:
                return found
        return ""
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found = difference(left, right, f"{path}[{index}]")
            if found:
                return found
        return ""
    if expected != actual:
        return f"{path}: {json.dumps(expected)[:60]} became {json.dumps(actual)[:60]}"
    return ""


def sweep(direction: str = "Req") -> Iterator[Outcome]:
    """Every instance of every message namespace in one direction, judged."""
    exi = prepare()
    for namespace in MESSAGE_NAMESPACES:
        for instance in instances(namespace, direction):
            yield judge(exi, instance)
