"""Runs in the ocpi-types environment (scripts/ocpi-venv), not in .venv: reads
``[[kind, object], ...]`` as JSON on stdin and prints one verdict per object: "ok",
or why OCPI 2.2.1's generated types refuse it. ``from_dict`` checks types, enums and
required fields; the round trip through ``to_dict`` finds fields OCPI does not
know (``from_dict`` drops them silently)."""

import json
import sys

from ocpi_types import v2_2_1

KINDS = {"Tariff": v2_2_1.Tariff, "Cdr": v2_2_1.Cdr}


def verdict(kind, obj):
    try:
        back = KINDS[kind].from_dict(obj).to_dict()
    except Exception as error:  # the generated code raises AssertionError and ValueError
        return f"{kind} refused: {type(error).__name__}: {error}"
    unknown = sorted(_paths(obj) - _paths(back))
    return "ok" if not unknown else f"{kind} fields unknown to OCPI 2.2.1: {unknown}"


def _paths(value, prefix=""):
    found = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(prefix + key)
            found |= _paths(item, prefix + key + ".")
    elif isinstance(value, list):
        for item in value:
            found |= _paths(item, prefix)
    return found


print(json.dumps([verdict(kind, obj) for kind, obj in json.load(sys.stdin)]))
