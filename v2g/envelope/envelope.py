"""The fleet as one virtual battery: the sum of the vehicles' flexibilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from v2g.envelope.flexibility import FleetFlexibility, Flexibility, FloatArray
from v2g.envelope.horizon import Horizon

IntArray = npt.NDArray[np.int64]


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
    if not flexibilities:
        return _summed(horizon, 0, None)
    return _summed(
        horizon,
        len(flexibilities),
        (
            np.array([f.lower_w for f in flexibilities]),
            np.array([f.upper_w for f in flexibilities]),
            np.array([f.floor_wh for f in flexibilities]),
            np.array([f.ceiling_wh for f in flexibilities]),
            np.array([f.energy_wh for f in flexibilities]),
            np.array([min(f.reserve_wh, f.energy_wh) for f in flexibilities]),
        ),
    )


def envelope_of(fleet: FleetFlexibility, rows: IntArray, horizon: Horizon) -> FleetEnvelope:
    """``fleet_envelope`` of the vehicles in ``rows`` of ``fleet``, read from its
    arrays (the same sums, without gathering each vehicle's arrays again)."""
    if not len(rows):
        return _summed(horizon, 0, None)
    energy = fleet.energy_wh[rows]
    return _summed(
        horizon,
        len(rows),
        (
            fleet.lower_w[rows],
            fleet.upper_w[rows],
            fleet.floor_wh[rows],
            fleet.ceiling_wh[rows],
            energy,
            np.minimum(fleet.reserve_wh[rows], energy),
        ),
    )


_Rows = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def _summed(horizon: Horizon, count: int, rows: _Rows | None) -> FleetEnvelope:
    """The envelope of ``count`` vehicles from their rows (vehicles x slots: lower,
    upper, floor, ceiling; per vehicle: energy now, hard floor), None for none."""
    slots = horizon.slots
    if rows is None:
        zeros = np.zeros(slots)
        lower, upper, low_e, high_e = zeros, zeros.copy(), zeros.copy(), zeros.copy()
        reserve_e = zeros.copy()
    else:
        lower_w, upper_w, floor_wh, ceiling_wh, energy_wh, reserve_wh = rows
        lower = np.sum(lower_w, axis=0)
        upper = np.sum(upper_w, axis=0)
        energy = energy_wh[:, None]
        low_e = np.sum(floor_wh - energy, axis=0)
        high_e = np.sum(ceiling_wh - energy, axis=0)
        reserve_e = np.full(slots, float(np.sum(reserve_wh - energy[:, 0])))
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
