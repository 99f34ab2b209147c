"""What a vehicle's owner allows the aggregator to do, and where a charger connects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

#: How a charger names its bus: an index into the network's buses in the domain
#: (``Charger[int]``), a name or an index as a user wrote it in a config file.
BusT = TypeVar("BusT")


@dataclass(frozen=True, slots=True)
class OwnerPolicy:
    """The owner's terms for one vehicle.

    ``v2g_allowed``: the vehicle may be discharged to the grid. ``reserve_soc_percent``:
    it is never discharged below this state of charge. ``priority``: higher is served
    first when there is not enough for everyone (fallback strategies). With
    ``accept_shortfall`` the owner opted in to leaving with less than the target when
    a DR event needs the energy (the reserve still holds).
    """

    v2g_allowed: bool = False
    reserve_soc_percent: float = 20.0
    priority: int = 0
    accept_shortfall: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.reserve_soc_percent) and 0 <= self.reserve_soc_percent <= 100):
            raise ValueError(
                f"reserve_soc_percent must lie within 0..100 %, got {self.reserve_soc_percent}"
            )


@dataclass(frozen=True, slots=True)
class Charger(Generic[BusT]):
    """One EVSE and its connection point: the grid bus and its rated power in W, charge
    and discharge as magnitudes (>= 0). The one charger type: the site TOML's
    ``[[charger]]`` tables are read into it with the same key names (bus as written),
    the fleet holds it with the bus resolved to its index (``at_bus``)."""

    evse_id: str
    bus: BusT
    max_charge_power_w: float
    max_discharge_power_w: float = 0.0

    def __post_init__(self) -> None:
        if not self.evse_id:
            raise ValueError("a charger needs an evse_id")
        for name in ("max_charge_power_w", "max_discharge_power_w"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"charger {self.evse_id}: {name} must be >= 0 W, got {value}")

    def at_bus(self, bus: int) -> Charger[int]:
        """This charger with its bus resolved to an index into the network's buses."""
        return Charger(self.evse_id, bus, self.max_charge_power_w, self.max_discharge_power_w)


@dataclass(frozen=True, slots=True)
class DefaultNeeds:
    """The site's stated guess for a vehicle that does not say what it needs (a DIN or
    -2 AC vehicle without SoC, a -20 vehicle without energy requests or SoC).

    ``energy_wh``: energy to deliver from plug-in (Wh, at the EVSE). ``dwell_s``: the
    departure guessed as plug-in + dwell (also for a vehicle that states its needs but
    not when it leaves). A vehicle still plugged in past that guess is expected to leave
    within ``overstay_s`` from now (the guess is renewed every cycle). Such a vehicle is
    never discharged: nobody knows how much it can spare.
    """

    energy_wh: float = 10_000.0
    dwell_s: float = 8 * 3600.0
    overstay_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.energy_wh) and self.energy_wh >= 0):
            raise ValueError(f"default energy_wh must be >= 0 Wh, got {self.energy_wh}")
        for name in ("dwell_s", "overstay_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"default {name} must be > 0 s, got {value}")
