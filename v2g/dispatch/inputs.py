"""What a planning cycle starts from, and how the planner is tuned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from v2g.curves import StepCurve
from v2g.demand_response import EventBook
from v2g.envelope import Efficiency
from v2g.fleet import ExpectedArrival, Fleet


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """How far ahead and how finely the planner looks, and how long setpoints live."""

    slot_s: float = 900.0
    #: Slots planned at least; the horizon reaches further, to the fleet's latest
    #: departure, up to ``max_horizon_s``.
    slots: int = 96
    max_horizon_s: float = 48 * 3600.0
    setpoint_valid_s: float = 1800.0
    max_groups: int = 300
    max_zones: int = 300
    max_rows: int = 2000
    horizon_rows: int = 200
    #: Grid-row coefficients the horizon LP may hold (rows x groups x slots); beyond
    #: it, fewer rows (never fewer than 10) and slot 0 is solved again in full.
    horizon_row_budget: int = 400_000
    efficiency: Efficiency = field(default_factory=Efficiency)
    lp_time_limit_s: float = 5.0

    def __post_init__(self) -> None:
        if self.setpoint_valid_s <= 0:
            raise ValueError(f"setpoint_valid_s must be > 0, got {self.setpoint_valid_s}")


@dataclass(frozen=True)
class PlanInputs:
    """Everything a cycle plans from, frozen at the start of the cycle."""

    now: datetime
    fleet: Fleet
    events: EventBook = field(default_factory=EventBook)
    prices: StepCurve = field(default_factory=lambda: StepCurve(()))
    base_load: StepCurve = field(default_factory=lambda: StepCurve((), before=1.0))
    operator_cap_w: float | None = None
    #: Vehicles expected to plug in (bookings): counted by the plan, never sent setpoints.
    expected: tuple[ExpectedArrival, ...] = ()
