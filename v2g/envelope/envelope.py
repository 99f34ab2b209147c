"""The fleet as one virtual battery: the sum of the vehicles' flexibilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from v2g.envelope.flexibility import Flexibility, FloatArray
from v2g.envelope.horizon import Horizon


@dataclass(frozen=True)
class FleetEnvelope:
    """Per slot: the fleet's signed power range (W) and the range of energy it can have
    taken in by the end of the slot (Wh, relative to now; negative = delivered).
    ``min_energy_wh`` is what departures need (the planner may miss it, at a cost that
    says so); ``reserve_energy_wh`` is the hard floor of the owners' reserves.

    This is an outer approximation: every feasible fleet plan lies inside it, but not
    every plan inside it is feasible for each vehicle (one car's spare room cannot hold
    another car's energy). The planner therefore never plans against the envelope
    alone: it plans per bus group and splits each group's power per vehicle within that
    vehicle's own corridor (see ``v2g.dispatch``).
    """

    horizon: Horizon
    vehicles: int
    lower_w: FloatArray = field(repr=False)
    upper_w: FloatArray = field(repr=False)
    min_energy_wh: FloatArray = field(repr=False)
    max_energy_wh: FloatArray = field(repr=False)
    reserve_energy_wh: FloatArray = field(repr=False)
    lower_source: str
    upper_source: str

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (for the API, the dashboard and reports)."""
        return {
            "start": self.horizon.start.isoformat(),
            "slot_s": self.horizon.slot_s,
            "slot_ends_s": [round(float(e), 3) for e in self.horizon.offsets_s[1:]],
            "vehicles": self.vehicles,
            "lower_w": [round(float(v), 1) for v in self.lower_w],
            "upper_w": [round(float(v), 1) for v in self.upper_w],
            "min_energy_wh": [round(float(v), 1) for v in self.min_energy_wh],
            "max_energy_wh": [round(float(v), 1) for v in self.max_energy_wh],
            "lower_source": self.lower_source,
            "upper_source": self.upper_source,
        }


def fleet_envelope(flexibilities: Sequence[Flexibility], horizon: Horizon) -> FleetEnvelope:
    """The virtual-battery envelope of ``flexibilities`` over ``horizon``."""
    slots = horizon.slots
    if not flexibilities:
        zeros = np.zeros(slots)
        lower, upper, low_e, high_e = zeros, zeros.copy(), zeros.copy(), zeros.copy()
        reserve_e = zeros.copy()
    else:
        lower = np.sum([f.lower_w for f in flexibilities], axis=0)
        upper = np.sum([f.upper_w for f in flexibilities], axis=0)
        energy = np.array([f.energy_wh for f in flexibilities])[:, None]
        low_e = np.sum(np.array([f.floor_wh for f in flexibilities]) - energy, axis=0)
        high_e = np.sum(np.array([f.ceiling_wh for f in flexibilities]) - energy, axis=0)
        reserve = np.array([min(f.reserve_wh, f.energy_wh) for f in flexibilities])
        reserve_e = np.full(slots, float(np.sum(reserve - energy[:, 0])))
    count = len(flexibilities)
    return FleetEnvelope(
        horizon=horizon,
        vehicles=count,
        lower_w=lower,
        upper_w=upper,
        min_energy_wh=low_e,
        max_energy_wh=high_e,
        reserve_energy_wh=reserve_e,
        lower_source=f"sum of {count} vehicles' discharge limits, reserves and owner terms",
        upper_source=f"sum of {count} vehicles' charge limits",
    )
