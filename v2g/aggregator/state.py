"""What the aggregator knows between cycles, and how each input changes it (pure).

Inputs are folded the moment they arrive, so a sender learns at once whether its input
was accepted; a cycle plans from the state as it stood when the cycle began.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime

from v2g.curves import StepCurve
from v2g.demand_response import DemandResponseEvent, EventBook, Outcome
from v2g.fleet import ExpectedArrival, Fleet, FleetError, Site
from v2g.fleet.foreseen import ArrivalProfile, foreseen_arrivals
from v2g.session import SessionEvent, SessionStarted


@dataclass(frozen=True, slots=True)
class CancelEvent:
    """Stop a DR event at once."""

    event_id: str


@dataclass(frozen=True, slots=True)
class SetPrices:
    """A new price curve (per kWh, step-wise)."""

    prices: StepCurve


@dataclass(frozen=True, slots=True)
class SetFleetCap:
    """An operator override: cap the fleet's net power (W, + = charging); None lifts it."""

    power_w: float | None
    by: str = "operator"

    def __post_init__(self) -> None:
        if self.power_w is not None and not math.isfinite(self.power_w):
            raise ValueError(f"fleet cap is not a finite power: {self.power_w}")


@dataclass(frozen=True, slots=True)
class SetBaseLoad:
    """A new base-load curve (factor of the network's own loads), as forecast."""

    base_load: StepCurve


@dataclass(frozen=True, slots=True)
class SetExpected:
    """The vehicles expected to plug in (the open bookings), replacing those before."""

    expected: tuple[ExpectedArrival, ...]


@dataclass(frozen=True, slots=True)
class SetArrivalProfile:
    """The arrivals the site's history foresees (v2g.fleet.foreseen), replacing those
    before; None: foresee none."""

    profile: ArrivalProfile | None


Input = (
    SessionEvent
    | DemandResponseEvent
    | CancelEvent
    | SetPrices
    | SetFleetCap
    | SetBaseLoad
    | SetExpected
    | SetArrivalProfile
)


@dataclass(frozen=True)
class AggregatorState:
    """The fleet, the accepted DR events, prices, base load, operator overrides and
    the vehicles expected to plug in."""

    fleet: Fleet = field(default_factory=Fleet)
    events: EventBook = field(default_factory=EventBook)
    prices: StepCurve = field(default_factory=lambda: StepCurve(()))
    base_load: StepCurve = field(default_factory=lambda: StepCurve((), before=1.0))
    operator_cap_w: float | None = None
    expected: tuple[ExpectedArrival, ...] = ()
    arrival_profile: ArrivalProfile | None = None

    def expected_at(
        self, site: Site, now: datetime, until: datetime
    ) -> tuple[ExpectedArrival, ...]:
        """The bookings, and the arrivals the profile foresees from ``now`` to ``until``."""
        if self.arrival_profile is None:
            return self.expected
        booked = tuple(e for e in self.expected if e.pending(self.fleet, now))
        foreseen = foreseen_arrivals(self.arrival_profile, site, self.fleet, booked, now, until)
        return (*self.expected, *foreseen)


def fold(state: AggregatorState, item: Input, site: Site) -> tuple[AggregatorState, Outcome]:
    """The state after ``item``, and what to tell its sender. A rejected input leaves
    the state exactly as it was."""
    if isinstance(item, DemandResponseEvent):
        events, outcome = state.events.accept(item)
        return replace(state, events=events), outcome
    if isinstance(item, CancelEvent):
        events, outcome = state.events.cancel(item.event_id)
        return replace(state, events=events), outcome
    if isinstance(item, SetPrices):
        return replace(state, prices=item.prices), Outcome(True, "prices replaced")
    if isinstance(item, SetBaseLoad):
        return replace(state, base_load=item.base_load), Outcome(True, "base load replaced")
    if isinstance(item, SetExpected):
        return replace(state, expected=item.expected), Outcome(
            True, f"{len(item.expected)} expected arrivals"
        )
    if isinstance(item, SetArrivalProfile):
        said = "none" if item.profile is None else item.profile.basis
        return replace(state, arrival_profile=item.profile), Outcome(
            True, f"arrivals foreseen from {said}"
        )
    if isinstance(item, SetFleetCap):
        text = "lifted" if item.power_w is None else f"set to {item.power_w:.0f} W"
        return replace(state, operator_cap_w=item.power_w), Outcome(
            True, f"fleet cap {text} by {item.by}"
        )
    try:
        fleet = state.fleet.apply(item, site)
    except FleetError as error:
        return state, Outcome(False, str(error))
    return replace(state, fleet=fleet), Outcome(True, type(item).__name__)


def wants_early_cycle(item: Input) -> bool:
    """Plug-ins, DR changes and bookings are worth a cycle now rather than at the next tick."""
    return isinstance(
        item, SessionStarted | DemandResponseEvent | CancelEvent | SetFleetCap | SetExpected
    )
