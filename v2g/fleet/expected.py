"""Vehicles expected to plug in (a driver's booking): counted by the plan before they come.

A booked car's need is known before it arrives: its energy by its departure. The planner
counts it from its arrival on, so tonight's plan keeps room on the feeder for it and a DR
assessment does not promise energy the booked car will need (issue 15). It is planned as
a vehicle that only charges: its state of charge is unknown until it plugs in, so no
discharge is counted on it; and no setpoint is ever sent for it.

The expected vehicle stands for itself until a session starts at its EVSE from
``arrived_since`` on (that session is its car), or until ``gone_at`` passes without one
(a no-show); then the plan forgets it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from v2g.clock import require_aware
from v2g.fleet.fleet import Fleet
from v2g.fleet.member import FleetMember
from v2g.fleet.policy import Charger, OwnerPolicy
from v2g.session import ChargeNeeds


@dataclass(frozen=True, slots=True)
class ExpectedArrival:
    """A vehicle expected at ``charger`` from ``arrives_at`` that must have gained
    ``energy_wh`` by ``departs_at``. ``source`` names why it is expected ("booking ...")."""

    charger: Charger[int]
    arrives_at: datetime
    departs_at: datetime
    energy_wh: float
    source: str
    arrived_since: datetime
    gone_at: datetime
    #: A booking is firm: its driver asked, so its need ranks with those plugged in.
    #: A car foreseen from history (v2g.fleet.foreseen) has asked nothing yet: room is
    #: kept for it over price, but a DR event comes first.
    firm: bool = True

    def __post_init__(self) -> None:
        for name in ("arrives_at", "departs_at", "arrived_since", "gone_at"):
            require_aware(getattr(self, name), name)
        if self.departs_at < self.arrives_at:
            raise ValueError(f"{self.source}: departs before it arrives")
        if not (math.isfinite(self.energy_wh) and self.energy_wh >= 0):
            raise ValueError(f"{self.source}: energy_wh must be >= 0, got {self.energy_wh}")

    @property
    def label(self) -> str:
        """How plans name it: never an EVSE id, so nothing is ever sent to it."""
        return f"{self.charger.evse_id} ({self.source})"

    def pending(self, fleet: Fleet, now: datetime) -> bool:
        """Still expected at ``now``: not departed, not a no-show, its car not plugged in."""
        if now >= self.departs_at or now >= self.gone_at:
            return False
        member = fleet.members.get(self.charger.evse_id)
        return member is None or member.plugged_in_at < self.arrived_since

    def member(self, earliest: datetime) -> FleetMember:
        """The vehicle as the planner counts it, plugged in at its arrival but not
        before ``earliest`` (a late car cannot charge in a slot already under way):
        a -20 style request of ``energy_wh`` with no discharge below arrival."""
        at = max(self.arrives_at, earliest)
        needs = ChargeNeeds(
            reported_at=at,
            departure=max(self.departs_at, at),
            min_energy_wh=0.0,
            target_energy_wh=self.energy_wh,
            max_energy_wh=self.energy_wh,
        )
        charger = Charger(
            self.label,
            self.charger.bus,
            self.charger.max_charge_power_w,
            self.charger.max_discharge_power_w,
        )
        if self.firm:
            return FleetMember(charger, self.source, at, OwnerPolicy(), needs=needs)
        # As an owner who accepts a shortfall and has given its whole need up already:
        # the plan charges it over price, and lets it go short for DR only.
        policy = OwnerPolicy(accept_shortfall=True)
        return FleetMember(
            charger, self.source, at, policy, needs=needs, given_to_dr_wh=self.energy_wh
        )
