"""Fleet builders for tests: vehicles plugged in through the same session events the
SECC publishes, so tests exercise the real fold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from v2g.fleet import Charger, Fleet, OwnerPolicy, Site
from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    SessionEvent,
    SessionStarted,
    TransferLimits,
)


@dataclass
class FleetBuilder:
    """Adds vehicles one by one; ``fleet`` and ``site`` are the result."""

    now: datetime
    chargers: list[Charger[int]] = field(default_factory=list)
    policies: dict[str, OwnerPolicy] = field(default_factory=dict)
    events: list[SessionEvent] = field(default_factory=list)

    def vehicle(
        self,
        name: str,
        *,
        bus: int = 1,
        soc_percent: float = 50.0,
        target_soc_percent: float = 80.0,
        capacity_wh: float = 60_000.0,
        departure: datetime | None = None,
        max_charge_w: float = 11_000.0,
        max_discharge_w: float = 0.0,
        v2g: bool = False,
        reserve_soc_percent: float = 20.0,
        accept_shortfall: bool = False,
        charger_max_charge_w: float | None = None,
        charger_max_discharge_w: float | None = None,
    ) -> FleetBuilder:
        evse = f"evse-{name}"
        self.chargers.append(
            Charger(
                evse,
                bus,
                max_charge_w if charger_max_charge_w is None else charger_max_charge_w,
                max_discharge_w if charger_max_discharge_w is None else charger_max_discharge_w,
            )
        )
        self.policies[name] = OwnerPolicy(
            v2g_allowed=v2g,
            reserve_soc_percent=reserve_soc_percent,
            accept_shortfall=accept_shortfall,
        )
        session = f"session-{name}"
        discharge = DischargeLimits(max_discharge_w) if max_discharge_w > 0 else None
        self.events += [
            SessionStarted(evse, session, self.now, name, "iso20"),
            LimitsReported(
                evse, session, self.now, TransferLimits(max_charge_w, discharge=discharge)
            ),
            NeedsReported(
                evse,
                session,
                self.now,
                ChargeNeeds(
                    reported_at=self.now,
                    departure=departure,
                    soc_percent=soc_percent,
                    target_soc_percent=target_soc_percent,
                    battery_capacity_wh=capacity_wh,
                ),
            ),
        ]
        return self

    @property
    def site(self) -> Site:
        return Site.of(self.chargers, policies=dict(self.policies))

    @property
    def fleet(self) -> Fleet:
        fleet, errors = Fleet().apply_all(self.events, self.site)
        if errors:
            raise errors[0]
        return fleet


def v2g_pair(now: datetime, stay_h: float, soc_percent: float = 80.0) -> FleetBuilder:
    """Two bidirectional cars "a" and "b" (11 kW each way, owners allow V2G), plugged
    in at ``now`` and leaving ``stay_h`` hours later: the usual DR test fleet."""
    builder = FleetBuilder(now)
    for name in ("a", "b"):
        builder.vehicle(
            name,
            soc_percent=soc_percent,
            departure=now + timedelta(hours=stay_h),
            max_discharge_w=11_000,
            v2g=True,
        )
    return builder
