"""The grid as the planner sees it: linear rows per bus group, an AC check, groups.

``GridModel`` is the seam (a fake ships in ``v2g.testing``); ``v2g.feeder.FeederGrid``
answers it with gridmodel: rows from the power-flow Jacobian at the current operating
point and the exact AC check. This module holds only the seam and the rows as data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gridmodel import GridVerdict, Injection, Violation

FloatArray = npt.NDArray[np.float64]

#: Sides of the polygon that replaces a branch's loading disc in the LP (conservative
#: by 1 - cos(pi / sides): 3.4 % with 12 sides).
POLYGON_SIDES = 12


@dataclass(frozen=True)
class GridRows:
    """Linear limits ``a @ x <= b - base * (factor - base_factor)`` on group powers ``x``
    in W (+ = load), with ``factor`` a slot's base-load factor; ``labels`` name what
    each row protects ("line 3 'Line R1-R2' loading_percent <= 100")."""

    a: FloatArray = field(repr=False)
    b: FloatArray = field(repr=False)
    base: FloatArray = field(repr=False)
    labels: tuple[str, ...]
    pending: PendingRows | None = field(default=None, repr=False)

    def plus(self, other: GridRows) -> GridRows:
        """These rows and ``other``'s, with ``other``'s pending elements."""
        return GridRows(
            np.vstack([self.a, other.a]),
            np.concatenate([self.b, other.b]),
            np.concatenate([self.base, other.base]),
            self.labels + other.labels,
            other.pending,
        )

    @property
    def count(self) -> int:
        return len(self.labels)

    def nearest(self, reach_w: FloatArray, limit: int) -> GridRows:
        """The ``limit`` rows that a move within ``reach_w`` per column brings closest
        to their bound (relative to how far the move can push them): the rows most
        likely to bind. The rest are left to the AC check and curtailment."""
        if self.count <= limit:
            return self
        push = np.abs(self.a) @ reach_w
        closeness = self.b / np.maximum(push, 1e-12)
        keep = np.sort(np.argsort(closeness, kind="stable")[:limit])
        return self.take(keep)

    def take(self, rows: npt.NDArray[np.int64]) -> GridRows:
        return GridRows(
            self.a[rows],
            self.b[rows],
            self.base[rows],
            tuple(self.labels[i] for i in rows),
            self.pending,
        )

    def on(self, weights: FloatArray) -> GridRows:
        """The same rows on combined columns: column z moves column g by
        ``weights[g, z]`` W per W."""
        return GridRows(self.a @ weights, self.b, self.base, self.labels)  # none pending


@dataclass(frozen=True)
class PendingRows:
    """Elements whose rows were left out (beyond ``max_rows``), kept at element level
    for row generation: ``violated`` makes rows for the elements that a slot-0 plan
    pushes past their limits, so the LP can be solved again with them."""

    vm_high: FloatArray = field(repr=False)  # voltage as the upper-band rows see it
    vm_low: FloatArray = field(repr=False)  # ... and the lower-band rows (calibrated)
    d_vm_pu: FloatArray = field(repr=False)  # buses x (groups + base)
    bus_labels: tuple[str, ...]
    vm_pu_min: float
    vm_pu_max: float
    current: npt.NDArray[np.complex128] = field(repr=False)
    d_current: npt.NDArray[np.complex128] = field(repr=False)  # branches x (groups + base)
    limit: FloatArray = field(repr=False)
    branch_labels: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return len(self.vm_high) == 0 and len(self.current) == 0

    def weight_of(self, element: str) -> FloatArray | None:
        """How much each group's power moves ``element`` (|sensitivity| per group), or
        None if it is not pending here."""
        if element in self.branch_labels:
            row: FloatArray = np.abs(self.d_current[self.branch_labels.index(element), :-1])
            return row
        if element in self.bus_labels:
            column: FloatArray = np.abs(self.d_vm_pu[self.bus_labels.index(element), :-1])
            return column
        return None

    def violated(self, power_w: FloatArray) -> GridRows:
        """Rows for the pending elements that ``power_w`` per group breaks (slot 0)."""
        move = np.append(power_w, 0.0)
        dv = self.d_vm_pu @ move
        shrink = np.cos(np.pi / POLYGON_SIDES)
        high = np.flatnonzero(self.vm_high + dv > self.vm_pu_max)
        low = np.flatnonzero(self.vm_low + dv < self.vm_pu_min)
        hot = np.flatnonzero(np.abs(self.current + self.d_current @ move) > self.limit * shrink)
        done = np.zeros(len(self.vm_high), dtype=bool)
        done[high] = done[low] = True
        hot_done = np.zeros(len(self.current), dtype=bool)
        hot_done[hot] = True
        rows = element_rows(
            self.vm_high,
            self.vm_low,
            self.d_vm_pu,
            self.bus_labels,
            self.vm_pu_min,
            self.vm_pu_max,
            self.current,
            self.d_current,
            self.limit,
            self.branch_labels,
            high,
            low,
            hot,
        )
        keep_bus, keep_branch = np.flatnonzero(~done), np.flatnonzero(~hot_done)
        rest = PendingRows(
            self.vm_high[keep_bus],
            self.vm_low[keep_bus],
            self.d_vm_pu[keep_bus],
            tuple(self.bus_labels[i] for i in keep_bus),
            self.vm_pu_min,
            self.vm_pu_max,
            self.current[keep_branch],
            self.d_current[keep_branch],
            self.limit[keep_branch],
            tuple(self.branch_labels[i] for i in keep_branch),
        )
        return GridRows(rows.a, rows.b, rows.base, rows.labels, rest)


def element_rows(
    vm_high: FloatArray,
    vm_low: FloatArray,
    d_vm_pu: FloatArray,
    bus_labels: Sequence[str],
    vm_pu_min: float,
    vm_pu_max: float,
    current: npt.NDArray[np.complex128],
    d_current: npt.NDArray[np.complex128],
    limit: FloatArray,
    branch_labels: Sequence[str],
    high: npt.NDArray[np.int64],
    low: npt.NDArray[np.int64],
    hot: npt.NDArray[np.int64],
) -> GridRows:
    """Rows for the chosen elements: voltages above/below the band, and each hot
    branch's loading disc as the inscribed polygon (conservative by 1 - cos(pi/sides)).
    The last column of the sensitivities is the base-load factor's."""
    rows_a = [d_vm_pu[high], -d_vm_pu[low]]
    rows_b = [vm_pu_max - vm_high[high], vm_low[low] - vm_pu_min]
    labels = [f"{bus_labels[i]} vm_pu <= {vm_pu_max:g}" for i in high]
    labels += [f"{bus_labels[i]} vm_pu >= {vm_pu_min:g}" for i in low]
    polygon_labels = [f"{branch_labels[i]} loading_percent <= {limit[i]:g}" for i in hot]
    shrink = np.cos(np.pi / POLYGON_SIDES)
    for k in range(POLYGON_SIDES):
        rotation = np.exp(-2j * np.pi * k / POLYGON_SIDES)
        rows_a.append(np.real(rotation * d_current[hot]))
        rows_b.append(limit[hot] * shrink - np.real(rotation * current[hot]))
        labels += polygon_labels
    a_full = np.vstack(rows_a)
    return GridRows(a_full[:, :-1], np.concatenate(rows_b), a_full[:, -1], tuple(labels))


class GridModel(Protocol):
    """What the planner needs from the grid."""

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        """The exact verdict on EV power per bus (W, + = load) on top of the base load."""
        ...

    def base_injections(self, factor: float) -> list[Injection]:
        """Injections that scale the network's own loads to ``factor`` times."""
        ...

    def calibrate(self, violations: Sequence[Violation]) -> None:
        """Learn from an AC check that failed a plan the linear rows accepted."""
        ...

    def groups(self, buses: Sequence[int], max_groups: int) -> list[int]:
        """A group id per bus: at most about ``max_groups`` groups of buses that the
        planner treats as one (per bus when few, per low-voltage grid when many)."""
        ...

    def rows(
        self,
        weights: FloatArray,
        buses: Sequence[int],
        up_w: FloatArray,
        down_w: FloatArray,
        base_factor: float,
        factor_span: float,
        max_rows: int,
    ) -> GridRows:
        """Rows for group powers: column g moves bus ``buses[j]`` by ``weights[j, g]`` W
        per W. Each group moves within [``down_w``, ``up_w``] (down <= 0 <= up) and the
        base-load factor within ``base_factor`` +- ``factor_span``. At most about
        ``max_rows`` rows are returned: those that the fleet moving all one way (all up,
        or all down) pushes furthest past their bound."""
        ...


#: Grid rows an export cap looks at (the most binding ones when all chargers export).
EXPORT_CAP_ROWS = 500


def export_room_w(
    grid: GridModel,
    discharge_w_by_bus: dict[int, float],
    factor_now: float,
    factor_then: float,
) -> float:
    """The most the site's chargers can export together (W, >= 0) within the grid rows
    when the base load stands at ``factor_then``: the chargers export in proportion to
    their discharge ratings (``discharge_w_by_bus``, W per bus), and the rows are those
    of the operating point at ``factor_now`` (the planner's), moved to ``factor_then``
    along their base-load column. 0 when the base load alone already breaks a row that
    exporting loads further."""
    buses = sorted(b for b, w in discharge_w_by_bus.items() if w > 0)
    total_w = sum(discharge_w_by_bus[b] for b in buses)
    if total_w <= 0:
        return 0.0
    weights = np.array([[discharge_w_by_bus[b] / total_w] for b in buses])
    rows = grid.rows(
        weights,
        buses,
        np.zeros(1),
        np.array([-total_w]),
        factor_now,
        abs(factor_then - factor_now),
        EXPORT_CAP_ROWS,
    )
    if not rows.count:
        return total_w
    # Group power p = -export: a * p <= b, with b moved to the later base load.
    room = rows.b - rows.base * (factor_then - factor_now)
    per_w = -rows.a[:, 0]  # how much each W of export uses of each row
    binding = per_w > 0  # rows that exporting relieves never cap it
    if not binding.any():
        return total_w
    return float(np.clip(np.min(room[binding] / per_w[binding]), 0.0, total_w))
