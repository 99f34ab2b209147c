"""A fleet member: one connected vehicle, what it reported, and the owner's terms."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from v2g.fleet.policy import Charger, DefaultNeeds, OwnerPolicy
from v2g.limits import Limit, PowerBounds
from v2g.session import ChargeNeeds, TransferLimits


@dataclass(frozen=True, slots=True)
class BatteryState:
    """What the planner needs to know about a battery, in Wh of stored energy.

    ``target_wh`` is the energy the driver wants on board at ``departure`` (None: the
    vehicle did not say when it leaves). ``reserve_wh`` is the floor that discharge
    never crosses.
    """

    capacity_wh: float
    energy_wh: float
    target_wh: float
    reserve_wh: float
    max_wh: float
    departure: datetime | None


@dataclass(frozen=True, slots=True)
class FleetMember:
    """A vehicle plugged in at ``charger`` since ``plugged_in_at``.

    ``delivered_wh``: energy through the EVSE since plug-in (Wh, + = into the vehicle),
    each measured power held until the next measurement. ``needs_delivered_wh``: what
    ``delivered_wh`` was when ``needs`` were reported (-20 energy requests count from
    their report). ``default_needs``: the site's guess where the vehicle says nothing.
    """

    charger: Charger
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
            self.charger.max_charge_w,
            self.charger.max_discharge_w,
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

    def battery(self) -> BatteryState | None:
        """The battery in Wh, or None while capacity or state of charge is unknown (DIN
        SPEC 70121 and ISO 15118-2 AC vehicles may never report them)."""
        needs = self.needs
        if needs is None or needs.battery_capacity_wh is None:
            return None
        soc = self.soc_percent if self.soc_percent is not None else needs.soc_percent
        if soc is None:
            return None
        capacity = needs.battery_capacity_wh
        energy = capacity * soc / 100.0
        max_wh = capacity * (needs.max_soc_percent or 100.0) / 100.0
        if needs.target_soc_percent is not None:
            target = capacity * needs.target_soc_percent / 100.0
        elif needs.target_energy_wh is not None:
            # -20 reports energy still to transfer as of the report; its SoC moved since.
            reported = (
                capacity * (needs.soc_percent if needs.soc_percent is not None else soc) / 100.0
            )
            target = reported + needs.target_energy_wh
        else:
            target = max_wh
        reserve = capacity * self.policy.reserve_soc_percent / 100.0
        return BatteryState(
            capacity_wh=capacity,
            energy_wh=energy,
            target_wh=min(max(target, 0.0), max_wh),
            reserve_wh=reserve,
            max_wh=max_wh,
            departure=needs.departure,
        )
