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
    """Decode and validate one instance as the SECC would."""
    from iso15118.shared.exceptions import EXIDecodingError, V2GMessageValidationError

    from v2g.secc.schema_conformance import refusal_code, requirement

    stream = native.encode(instance.document, instance.namespace)
    logging.disable(logging.CRITICAL)  # the package logs every refusal at ERROR
    try:
        model = exi.from_exi(stream, instance.namespace)
    except V2GMessageValidationError as error:
        if error.message is None:  # no model for this message
            return unmodelled(instance)
        code = refusal_code(error.message)
        return Outcome(instance, ANSWERED, f"{code.value}: {requirement(error.reason)}")
    except EXIDecodingError as error:
        if "Unable to decode" in str(error):
            return unmodelled(instance)
        return Outcome(instance, UNANSWERED, str(error).split("\n")[0])
    except Exception as error:
        return Outcome(instance, UNANSWERED, f"{type(error).__name__}: {error}")
    finally:
        logging.disable(logging.NOTSET)
    return Outcome(instance, ACCEPTED, "", round_trip(exi, model, instance))


def unmodelled(instance: Instance) -> Outcome:
    """A request iso15118 has no model for: answered FAILED_SequenceError if that
    answer can be built from the schema and encoded (``answer_unmodelled``)."""
    from v2g.secc.schema_conformance import SEQUENCE_ERROR, sequence_error_answer

    if not instance.message.endswith("Req"):
        return Outcome(instance, UNANSWERED, "no model (a response: the EV's side)")
    answer = sequence_error_answer(instance.namespace, instance.message, "0A", 1)
    native.decode(native.encode(answer, instance.namespace), instance.namespace)
    return Outcome(instance, ANSWERED, f"{SEQUENCE_ERROR}: iso15118 has no model for it")


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
