"""OpenADR 3.0.1 objects (JSON) -> the domain's DR events and prices (pure).

OpenADR 3 events carry an ``intervalPeriod`` (start, ISO 8601 duration) and
``intervals`` of ``payloads`` typed by ``payloadDescriptors`` (spec 3.0.1, "Event"
and "EventPayloadDescriptor"). Payload types are mapped onto the same table as
OpenADR 2.0b signals (README.md), so both channels mean the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from v2g.demand_response import InvalidEvent
from v2g.openadr.signals import (
    Interval,
    SignalMapping,
    Translation,
    UnsupportedSignal,
    translate,
)

#: OpenADR 3 payload type -> the (signal name, signal type) of the shared mapping.
PAYLOAD_SIGNALS = {
    "DISPATCH_SETPOINT": ("LOAD_DISPATCH", "setpoint"),
    "DISPATCH_SETPOINT_RELATIVE": ("LOAD_DISPATCH", "delta"),
    "IMPORT_CAPACITY_LIMIT": ("IMPORT_CAPACITY_LIMIT", "limit"),
    "SIMPLE": ("SIMPLE", "level"),
    "PRICE": ("ELECTRICITY_PRICE", "price"),
}
#: Power units of payloadDescriptors, in W.
UNITS_W = {"W": 1.0, "KW": 1000.0, "MW": 1e6}

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of days, hours, minutes and seconds ("PT15M", "P1DT2H").

    OpenADR 3 writes "P9999Y" for "until further notice": no end to plan against, so
    years and months are refused along with anything else unreadable.
    """
    found = _DURATION.match(text) if isinstance(text, str) else None
    if found is None or text in ("P", "PT"):
        raise InvalidEvent(f"duration: {text!r} is not an ISO 8601 duration in days to seconds")
    parts = {k: float(v) for k, v in found.groupdict().items() if v is not None}
    return timedelta(**parts)


def parse_time(text: object, name: str) -> datetime:
    """An ISO 8601 date-time with its zone (naive times are refused)."""
    if not isinstance(text, str):
        raise InvalidEvent(f"{name}: expected an ISO 8601 date-time, got {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidEvent(f"{name}: {text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidEvent(f"{name}: {text!r} has no zone (UTC recommended)")
    return moment


def revision(event: Mapping[str, Any]) -> int:
    """OpenADR 3 has no modification number; ``modificationDateTime`` orders revisions
    (milliseconds since the epoch, so two edits in one second still differ)."""
    stamp = event.get("modificationDateTime") or event.get("createdDateTime")
    if stamp is None:
        return 0
    return int(parse_time(stamp, "modificationDateTime").timestamp() * 1000)


def _units_w(descriptor: Mapping[str, Any] | None, mapping: SignalMapping) -> float:
    if descriptor is None or descriptor.get("units") is None:
        return mapping.load_dispatch_unit_w
    units = str(descriptor["units"]).upper()
    if units not in UNITS_W:
        raise UnsupportedSignal(f"payload units {units!r}: expected one of {', '.join(UNITS_W)}")
    return UNITS_W[units]


def translate_event(event: Mapping[str, Any], mapping: SignalMapping) -> Translation:
    """An OpenADR 3 event object -> Translation. Raises InvalidEvent or
    UnsupportedSignal with the reason for the sender."""
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidEvent("id: an event needs a non-empty string id")
    period = event.get("intervalPeriod") or {}
    descriptors = {
        str(d.get("payloadType")): d
        for d in event.get("payloadDescriptors") or []
        if isinstance(d, Mapping)
    }
    by_type: dict[str, list[Interval]] = {}
    for position, interval in enumerate(event.get("intervals") or []):
        own = interval.get("intervalPeriod") or {}
        start_text = own.get("start", period.get("start"))
        duration = parse_duration(own.get("duration", period.get("duration", "")))
        start = parse_time(start_text, f"{event_id} intervalPeriod.start")
        if not own.get("start"):
            # Intervals without their own period follow each other (3.0.1, Event).
            start += duration * position
        for payload in interval.get("payloads") or []:
            kind = str(payload.get("type"))
            values = payload.get("values") or []
            if not values or isinstance(values[0], bool) or not isinstance(values[0], int | float):
                raise UnsupportedSignal(f"{event_id} {kind}: values must hold a number")
            if not math.isfinite(float(values[0])):
                raise UnsupportedSignal(f"{event_id} {kind}: value {values[0]} is not finite")
            by_type.setdefault(kind, []).append(Interval(start, duration, float(values[0])))
    if not by_type:
        raise UnsupportedSignal(f"event {event_id} has no payloads")
    signals = []
    for kind, intervals in by_type.items():
        if kind not in PAYLOAD_SIGNALS:
            raise UnsupportedSignal(f"payload type {kind} is not in the signal mapping")
        name, signal_type = PAYLOAD_SIGNALS[kind]
        signals.append((name, signal_type, intervals))
        if name != "ELECTRICITY_PRICE":
            unit_w = _units_w(descriptors.get(kind), mapping)
            mapping = replace(mapping, load_dispatch_unit_w=unit_w)
    return translate(event_id, revision(event), signals, mapping)
