"""Scenario files for ``v2g simulate`` (docs/scenario.md), parsed and validated once.

Every error names the offending field by its path ("vehicles[2].capacity_wh: ...").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gridmodel import GridLimits
from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, InvalidEvent
from v2g.fleet.foreseen import ArrivalProfile
from v2g.forecast.offer import PastSession
from v2g.forecast.sessions import TooLittleHistory, learn


class InvalidScenario(ValueError):
    """A scenario that cannot run; the message starts with the field's path."""


@dataclass(frozen=True, slots=True)
class ScenarioVehicle:
    """One vehicle: where it plugs in, when, its battery, and its owner's terms."""

    id: str
    bus: str | int
    arrival: datetime
    departure: datetime
    capacity_wh: float
    soc_arrival_percent: float
    soc_target_percent: float
    soc_reserve_percent: float
    max_charge_w: float
    max_discharge_w: float
    v2g: bool
    #: The owner opted in to leaving below the target when a DR event needs the energy.
    accepts_shortfall: bool = False
    #: The driver booked: the planner knows from the start when it comes, when it
    #: leaves and the energy it needs (a booking, ``v2g.fleet.expected``).
    booked: bool = False


@dataclass(frozen=True)
class Scenario:
    start: datetime
    end: datetime
    step_s: float
    network: str
    limits: GridLimits | None
    base_load: StepCurve
    vehicles: tuple[ScenarioVehicle, ...]
    dr_events: tuple[DemandResponseEvent, ...]
    prices: StepCurve
    #: The prices' currency (ISO 4217 code), for reports.
    currency: str = "EUR"
    #: The arrivals the site's past sessions (``history``) foresee, or None.
    arrivals: ArrivalProfile | None = None


def _field(data: dict[str, Any], key: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise InvalidScenario(f"{path or 'scenario'}: must be an object")
    if key not in data:
        raise InvalidScenario(f"{path}{key}: missing")
    return data[key]


def _time(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidScenario(f"{path}: must be an ISO 8601 time with a zone, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidScenario(f"{path}: not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidScenario(f"{path}: naive time {value!r}; add a zone (e.g. Z)")
    return moment


def _number(value: Any, path: str, low: float = -math.inf, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidScenario(f"{path}: must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise InvalidScenario(f"{path}: must lie within {low:g}..{high:g}, got {value}")
    return float(value)


def _curve(value: Any, path: str, before: float) -> StepCurve:
    if not isinstance(value, list):
        raise InvalidScenario(f"{path}: must be a list of [time, value] pairs")
    points = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise InvalidScenario(f"{path}[{i}]: must be a [time, value] pair")
        points.append((_time(pair[0], f"{path}[{i}][0]"), _number(pair[1], f"{path}[{i}][1]")))
    return StepCurve.of(points, before)


def _flag(data: Any, key: str, path: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InvalidScenario(f"{path}{key}: must be true or false")
    return value


def _vehicle(data: Any, path: str) -> ScenarioVehicle:
    def get(key: str) -> Any:
        return _field(data, key, path)

    bus = get("bus")
    if not isinstance(bus, str | int) or isinstance(bus, bool):
        raise InvalidScenario(f"{path}bus: must be a bus name or index, got {bus!r}")
    vehicle_id = get("id")
    if not isinstance(vehicle_id, str) or not vehicle_id:
        raise InvalidScenario(f"{path}id: must be a non-empty string")
    vehicle = ScenarioVehicle(
        id=vehicle_id,
        bus=bus,
        arrival=_time(get("arrival"), f"{path}arrival"),
        departure=_time(get("departure"), f"{path}departure"),
        capacity_wh=_number(get("capacity_wh"), f"{path}capacity_wh", 1.0, 5e6),
        soc_arrival_percent=_number(
            get("soc_arrival_percent"), f"{path}soc_arrival_percent", 0, 100
        ),
        soc_target_percent=_number(get("soc_target_percent"), f"{path}soc_target_percent", 0, 100),
        soc_reserve_percent=_number(
            data.get("soc_reserve_percent", 20.0), f"{path}soc_reserve_percent", 0, 100
        ),
        max_charge_w=_number(get("max_charge_w"), f"{path}max_charge_w", 0, 5e6),
        max_discharge_w=_number(
            data.get("max_discharge_w", 0.0), f"{path}max_discharge_w", 0, 5e6
        ),
        v2g=_flag(data, "v2g", path),
        accepts_shortfall=_flag(data, "accepts_shortfall", path),
        booked=_flag(data, "booked", path),
    )
    if vehicle.departure <= vehicle.arrival:
        raise InvalidScenario(f"{path}departure: must be after arrival")
    return vehicle


def _past_session(data: Any, path: str) -> PastSession:
    arrival = _time(_field(data, "arrival", path), f"{path}arrival")
    departure = _time(_field(data, "departure", path), f"{path}departure")
    if departure <= arrival:
        raise InvalidScenario(f"{path}departure: must be after arrival")
    return PastSession(
        arrival=arrival,
        dwell_s=(departure - arrival).total_seconds(),
        energy_wh=_number(_field(data, "energy_wh", path), f"{path}energy_wh", 0, 5e6),
        max_charge_w=0.0,
        max_discharge_w=0.0,
    )


def _arrivals(data: Any, start: datetime) -> ArrivalProfile | None:
    """What the scenario's ``history`` (sessions before its start) foresees."""
    raw = data.get("history", [])
    if not isinstance(raw, list):
        raise InvalidScenario("history: must be a list of past sessions")
    if not raw:
        return None
    past = [_past_session(item, f"history[{i}].") for i, item in enumerate(raw)]
    if any(p.arrival >= start for p in past):
        raise InvalidScenario("history: every past session must arrive before start")
    try:
        return learn(past, start, (0.5,)).profile()
    except TooLittleHistory as error:
        raise InvalidScenario(f"history: {error}") from None


def parse_scenario(data: Any) -> Scenario:
    """A validated Scenario from parsed JSON (raises InvalidScenario)."""
    start = _time(_field(data, "start", ""), "start")
    end = _time(_field(data, "end", ""), "end")
    if end <= start:
        raise InvalidScenario("end: must be after start")
    step_s = _number(_field(data, "step_s", ""), "step_s", 1, 86400)
    feeder = _field(data, "feeder", "")
    network = _field(feeder, "network", "feeder.")
    if not isinstance(network, str) or not network:
        raise InvalidScenario("feeder.network: must be a built-in name or a JSON file path")
    limits = None
    if "limits" in feeder:
        raw = feeder["limits"]
        keys = ("max_line_loading_percent", "max_trafo_loading_percent", "vm_pu_min", "vm_pu_max")
        if not isinstance(raw, dict) or set(raw) - set(keys):
            raise InvalidScenario(f"feeder.limits: only {', '.join(keys)} are allowed")
        values = {k: _number(v, f"feeder.limits.{k}", 0) for k, v in raw.items()}
        try:
            limits = GridLimits(**values)
        except ValueError as error:
            raise InvalidScenario(f"feeder.limits: {error}") from None
    base_load = _curve(feeder.get("base_load_profile", []), "feeder.base_load_profile", 1.0)
    raw_vehicles = _field(data, "vehicles", "")
    if not isinstance(raw_vehicles, list):
        raise InvalidScenario("vehicles: must be a list")
    vehicles = tuple(_vehicle(v, f"vehicles[{i}].") for i, v in enumerate(raw_vehicles))
    ids = [v.id for v in vehicles]
    if len(set(ids)) != len(ids):
        raise InvalidScenario("vehicles: ids must be unique")
    events = []
    for i, raw in enumerate(data.get("dr_events", [])):
        path = f"dr_events[{i}]."
        try:
            events.append(
                DemandResponseEvent(
                    id=_field(raw, "id", path),
                    start=_time(_field(raw, "start", path), f"{path}start"),
                    end=_time(_field(raw, "end", path), f"{path}end"),
                    kind=_field(raw, "kind", path),
                    value_w=_number(_field(raw, "value", path), f"{path}value"),
                    modification_number=int(raw.get("modification_number", 0)),
                )
            )
        except InvalidEvent as error:
            raise InvalidScenario(f"{path}{error}") from None
    prices = _curve(data.get("prices", []), "prices", 0.0)
    currency = data.get("currency", "EUR")
    if not isinstance(currency, str) or not re.fullmatch("[A-Z]{3}", currency):
        raise InvalidScenario(f"currency: must be an ISO 4217 code such as EUR, got {currency!r}")
    return Scenario(
        start,
        end,
        step_s,
        network,
        limits,
        base_load,
        vehicles,
        tuple(events),
        prices,
        currency,
        _arrivals(data, start),
    )
