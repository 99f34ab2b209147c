"""Runs inside a separate virtual environment with the ``openadr3`` package (pydantic
v2, an implementation of the OpenADR 3 API that is not ours) and checks OpenADR 3
objects with its models: ``python independent_check.py < objects.json``.

Input: a JSON list of ``[schema, object]`` (schema: event, program, subscription,
report, notification). Output: a JSON list of ``[schema, error or null]``. Only the
standard library and ``openadr3`` are imported here: never anything from v2g.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from openadr3.entities import coerce
from openadr3.entities.models import Event, Program, Report, Subscription
from openadr3.entities.raw import (
    RawEvent,
    RawNotification,
    RawProgram,
    RawReport,
    RawSubscription,
)
from openadr3.enums import ObjectType, Operation

RAW = {
    "event": (RawEvent, Event),
    "program": (RawProgram, Program),
    "subscription": (RawSubscription, Subscription),
    "report": (RawReport, Report),
}
#: Operation names by version: 3.1.0 per this package's enum, 3.0.1 HTTP methods.
OPERATIONS = {"3.1.0": {o.value for o in Operation}, "3.0.1": {"GET", "POST", "PUT", "DELETE"}}


def check(schema: str, obj: dict[str, Any], version: str) -> None:
    if schema == "notification":
        notification = {
            "object_type": obj["objectType"],
            "operation": obj["operation"],
            "object": obj["object"],
        }
        RawNotification.model_validate(notification)
        ObjectType(obj["objectType"])
        if obj["operation"] not in OPERATIONS[version]:
            raise ValueError(f"operation {obj['operation']!r} not in {version}")
        coerce(obj["object"])
        return
    raw, entity = RAW[schema]
    raw.model_validate(obj)
    entity.from_raw(obj)
    if schema == "subscription":
        for operations in obj["objectOperations"]:
            for name in operations["objects"]:
                ObjectType(name)
            unknown = set(operations["operations"]) - OPERATIONS[version]
            if unknown:
                raise ValueError(f"operations {sorted(unknown)} not in {version}")


def main() -> None:
    version = sys.argv[1]
    results = []
    for schema, obj in json.load(sys.stdin):
        try:
            check(schema, obj, version)
        except Exception as error:  # every refusal is reported, not raised
            results.append([schema, f"{type(error).__name__}: {error}"])
        else:
            results.append([schema, None])
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
