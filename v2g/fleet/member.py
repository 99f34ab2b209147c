"""A fleet member: one connected vehicle, what it reported, and the owner's terms."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from v2g.fleet.policy import Charger, DefaultNeeds, OwnerPolicy
from v2g.limits import Limit, PowerBounds
from v2g.session import ChargeNeeds, TransferLimits


@dataclass(frozen=True, slots=True)
class FleetMember:
    """A vehicle plugged in at ``charger`` since ``plugged_in_at``.

    ``delivered_wh``: energy through the EVSE since plug-in (Wh, + = into the vehicle),
    each measured power held until the next measurement. ``needs_delivered_wh``: what
    ``delivered_wh`` was when ``needs`` were reported (-20 energy requests count from
    their report). ``default_needs``: the site's guess where the vehicle says nothing.
    """

    charger: Charger[int]
    session_id: str
    plugged_in_at: datetime
    policy: OwnerPolicy
    ev_id: str | None = None
    ev_limits: TransferLimits | None = None
    needs: ChargeNeeds | None = None
    soc_percent: float | None = None
    measured_power_w: float = 0.0
    measured_at: datetime | None = None
    delivered_wh: float = 0.0
    needs_delivered_wh: float = 0.0
    default_needs: DefaultNeeds = field(default_factory=DefaultNeeds)

    @property
    def evse_id(self) -> str:
        return self.charger.evse_id

    def with_measurement(
        self, at: datetime, power_w: float, soc_percent: float | None
    ) -> FleetMember:
        delivered = self.delivered_wh
        if self.measured_at is not None and at > self.measured_at:
            hours = (at - self.measured_at).total_seconds() / 3600.0
            delivered += self.measured_power_w * hours
        return replace(
            self,
            measured_power_w=power_w,
            measured_at=at,
            delivered_wh=delivered,
            soc_percent=self.soc_percent if soc_percent is None else soc_percent,
        )

    def power_bounds(self) -> PowerBounds:
        """The signed power range in W that the charger, the vehicle and the owner allow,
        each end naming the limit that sets it."""
        charger = PowerBounds.symmetric(
            self.charger.max_charge_power_w,
            self.charger.max_discharge_power_w,
            f"charger {self.evse_id} rated",
        )
        bounds = (
            charger
            if self.ev_limits is None
            else charger.intersect(self.ev_limits.bounds(f"EV at {self.evse_id}"))
        )
        if bounds.lower.power_w < 0 and not self.policy.v2g_allowed:
            bounds = PowerBounds(Limit(0.0, f"owner of {self.evse_id}: no V2G"), bounds.upper)
        return bounds
