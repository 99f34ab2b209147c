"""OpenADR 2.0b event signals -> DR events and prices (pure, see README.md's table).

OpenADR 2.0b (spec 8.1, signal names and types) lets a VTN say the same thing many
ways; this module is the one place that decides what each supported (name, type)
pair asks of the fleet. Anything not in the mapping is refused with the reason, so
the VEN opts out instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from v2g.clock import require_aware
from v2g.demand_response import DemandResponseEvent, InvalidEvent

#: The DR kinds a SIMPLE level may ask for (docs/api.md, docs/scenario.md).
LEVEL_KINDS = ("export_w", "import_limit_w", "shed_w")


class UnsupportedSignal(ValueError):
    """A signal the mapping does not cover, or a payload that makes no sense for it."""


@dataclass(frozen=True, slots=True)
class LevelRequest:
    """What one SIMPLE level asks: a DR kind and its value in W."""

    kind: str
    value_w: float

    def __post_init__(self) -> None:
        if self.kind not in LEVEL_KINDS:
            raise ValueError(f"level kind {self.kind!r} is not one of {', '.join(LEVEL_KINDS)}")
        if not (math.isfinite(self.value_w) and self.value_w >= 0):
            raise ValueError(f"level value must be a finite power >= 0 W, got {self.value_w}")


def _default_levels() -> Mapping[int, LevelRequest]:
    # OpenADR 2.0b SIMPLE: 0 normal, 1 moderate, 2 high, 3 special. Default reading
    # for an EV fleet: moderate = stop charging, high = stop charging, special = discharge.
    return {
        1: LevelRequest("import_limit_w", 0.0),
        2: LevelRequest("import_limit_w", 0.0),
        3: LevelRequest("export_w", 50_000.0),
    }


@dataclass(frozen=True)
class SignalMapping:
    """How OpenADR signals become DR kinds and prices (configurable per site).

    ``load_dispatch_unit_w``: W per LOAD_DISPATCH payload unit (1000 when the VTN
    sends kW). ``levels``: SIMPLE level -> request (level 0 and missing levels ask
    nothing). ``price_per_unit``: factor from ELECTRICITY_PRICE payloads to the
    aggregator's price per kWh.
    """

    load_dispatch_unit_w: float = 1000.0
    levels: Mapping[int, LevelRequest] = field(default_factory=_default_levels)
    price_per_unit: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.load_dispatch_unit_w) and self.load_dispatch_unit_w > 0):
            raise ValueError(f"load_dispatch_unit_w must be > 0, got {self.load_dispatch_unit_w}")
        object.__setattr__(self, "levels", MappingProxyType(dict(self.levels)))


@dataclass(frozen=True)
class Translation:
    """What one OpenADR event asks: DR events (one per requesting interval) and price
    points; ``cancelled`` when the VTN cancelled the event."""

    event_id: str
    modification_number: int
    events: tuple[DemandResponseEvent, ...] = ()
    prices: tuple[tuple[datetime, float], ...] = ()
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval of a signal: its window and payload (wire-neutral)."""

    start: datetime
    duration: timedelta
    payload: float


def sub_event_id(event_id: str, index: int, count: int) -> str:
    """The DR event id of interval ``index``: the OpenADR id itself for a one-interval
    event, ``id#index`` when the event has several intervals."""
    return event_id if count == 1 else f"{event_id}#{index}"


def channel_id(channel: str, event_id: str) -> str:
    """The DR event id of ``event_id`` from ``channel``: ``openadr3:E9``, ``openadr3:E9#0``.

    Every channel has an id space of its own (a VTN's ``E9`` and an HTTP client's
    ``E9#0`` are different events), and the id stays readable in the API.
    """
    return f"{channel}:{event_id}"


def in_channel(translation: Translation, channel: str) -> Translation:
    """``translation`` with its DR events' ids in ``channel``'s id space."""
    events = tuple(replace(e, id=channel_id(channel, e.id)) for e in translation.events)
    return replace(translation, events=events)


def _request(name: str, kind: str, payload: float, mapping: SignalMapping) -> tuple[str, float]:
    """(DR kind, value W) for one payload; kind "" means the interval asks nothing."""
    if not math.isfinite(payload):
        raise UnsupportedSignal(f"{name}: payload {payload} is not a finite number")
    if name == "LOAD_DISPATCH" and kind == "setpoint":
        # A setpoint is the fleet's net power (+ = consuming, as OpenADR load).
        watts = payload * mapping.load_dispatch_unit_w
        return ("export_w", -watts) if watts < 0 else ("import_limit_w", watts)
    if name == "LOAD_DISPATCH" and kind == "delta":
        # A delta is a change against what the fleet would have done: negative sheds.
        watts = payload * mapping.load_dispatch_unit_w
        if watts > 0:
            raise UnsupportedSignal(
                f"LOAD_DISPATCH delta {payload}: asking for more load is not supported"
            )
        return ("shed_w", -watts) if watts < 0 else ("", 0.0)
    if name == "IMPORT_CAPACITY_LIMIT":
        # OpenADR 3 payload type: the most the fleet may draw.
        watts = payload * mapping.load_dispatch_unit_w
        if watts < 0:
            raise UnsupportedSignal(f"IMPORT_CAPACITY_LIMIT {payload}: a limit is >= 0")
        return ("import_limit_w", watts)
    if name.upper() == "SIMPLE" and kind == "level":
        level = int(payload)
        if level != payload or not 0 <= level <= 3:
            raise UnsupportedSignal(f"SIMPLE level {payload}: levels are 0, 1, 2, 3")
        found = mapping.levels.get(level)
        return ("", 0.0) if found is None else (found.kind, found.value_w)
    raise UnsupportedSignal(f"signal {name} of type {kind} is not in the signal mapping")


def _window_ok(event_id: str, start: datetime, duration: timedelta) -> None:
    try:
        require_aware(start, "dtstart")
    except ValueError as error:
        raise InvalidEvent(f"{event_id} dtstart: {error}") from None
    if duration <= timedelta(0):
        # OpenADR 2.0b allows duration 0 = "until cancelled"; we need an end to plan.
        raise InvalidEvent(f"{event_id} duration: must be > 0, got {duration}")


def translate(
    event_id: str,
    modification_number: int,
    signals: Sequence[tuple[str, str, Sequence[Interval]]],
    mapping: SignalMapping,
) -> Translation:
    """The DR events and prices that ``signals`` ((name, type, intervals) each) ask.

    Raises UnsupportedSignal or InvalidEvent with the reason for the sender.
    """
    if not signals:
        raise UnsupportedSignal(f"event {event_id} has no signals")
    dispatch = [s for s in signals if s[0] != "ELECTRICITY_PRICE"]
    if len(dispatch) > 1:
        # Two dispatch signals in one event would claim the same DR event ids.
        raise UnsupportedSignal(f"event {event_id}: one dispatch signal per event is supported")
    events: list[DemandResponseEvent] = []
    prices: list[tuple[datetime, float]] = []
    for name, kind, intervals in signals:
        if name == "ELECTRICITY_PRICE" and kind == "price":
            for interval in intervals:
                _window_ok(event_id, interval.start, interval.duration)
                if not math.isfinite(interval.payload):
                    raise UnsupportedSignal(f"ELECTRICITY_PRICE: payload {interval.payload}")
                prices.append((interval.start, interval.payload * mapping.price_per_unit))
            continue
        for index, interval in enumerate(intervals):
            _window_ok(event_id, interval.start, interval.duration)
            dr_kind, value_w = _request(name, kind, interval.payload, mapping)
            if not dr_kind:
                continue
            events.append(
                DemandResponseEvent(
                    id=sub_event_id(event_id, index, len(intervals)),
                    start=interval.start,
                    end=interval.start + interval.duration,
                    kind=dr_kind,
                    value_w=value_w,
                    modification_number=modification_number,
                )
            )
    return Translation(event_id, modification_number, tuple(events), tuple(prices))


def translate_oadr2(event: Mapping[str, Any], mapping: SignalMapping) -> Translation:
    """An event as openleadr parses oadrDistributeEvent (a dict) -> Translation."""
    descriptor = event["event_descriptor"]
    event_id = str(descriptor["event_id"])
    modification_number = int(descriptor["modification_number"])
    if descriptor.get("event_status") == "cancelled":
        return Translation(event_id, modification_number, cancelled=True)
    raw = event.get("event_signals") or []
    if isinstance(raw, Mapping):
        raw = raw.get("event_signals", [])
    signals = []
    for signal in raw:
        intervals = [
            Interval(i["dtstart"], i["duration"], float(i["signal_payload"]))
            for i in signal.get("intervals", [])
        ]
        signals.append((str(signal["signal_name"]), str(signal["signal_type"]), intervals))
    return translate(event_id, modification_number, signals, mapping)
