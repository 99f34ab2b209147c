"""The grid as the planner sees it: linear rows per bus group, an AC check, groups.

``GridModel`` is the seam (a fake ships in ``v2g.testing``); ``FeederGrid`` answers it
with gridmodel: rows from the power-flow Jacobian at the current operating point and
the exact AC check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gridmodel import AcGridCheck, GridVerdict, Injection, Violation
from gridmodel.linear import OperatingPoint
from gridmodel.loads import base_load_change, own_load_w
from gridmodel.planning import substation_groups, with_margin

FloatArray = npt.NDArray[np.float64]

#: Extra margin added to an element each time the AC check catches it (pu, percent).
CALIBRATION_PU = 0.001
CALIBRATION_PERCENT = 0.5

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
        rows = _element_rows(
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


def _element_rows(
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


class FeederGrid:
    """``GridModel`` on a gridmodel network: the fast AC check and Jacobian rows."""

    def __init__(self, check: AcGridCheck) -> None:
        self._check = check
        self.network = check.network
        self.limits = check.limits
        self._load_w = own_load_w(check.network)
        # The linearisation point is the base load alone (no EV power) at a profile
        # factor: the same for every cycle until the factor changes, so keep the last.
        self._point: tuple[float, OperatingPoint] | None = None
        # How much more pessimistic than the linear model each element is taken to be,
        # learnt from AC checks that disagreed (pu for voltages, percent for branches).
        self._high_pu: dict[str, float] = {}
        self._low_pu: dict[str, float] = {}
        self._branch_percent: dict[str, float] = {}
        # Warm up at construction, never in the first cycle (a DR event may be waiting
        # on it): the LV grids of the topology and the linearisation at the base load.
        every_bus = [int(b) for b in self.network.net.bus.index]
        self._lv_grid_of = dict(
            zip(every_bus, substation_groups(self.network, every_bus), strict=True)
        )
        self._operating_point(1.0)

    @staticmethod
    def _offsets(learnt: dict[str, float], labels: Sequence[str]) -> FloatArray:
        offsets = np.zeros(len(labels))
        if learnt:
            for i, label in enumerate(labels):
                offsets[i] = learnt.get(label, 0.0)
        return offsets

    def calibrate(self, violations: Sequence[Violation]) -> None:
        """Learn from an AC check that failed a plan the linear rows accepted: each
        violated element is taken that much (and a little) more pessimistically in
        every later plan, so the planner stops promising what the AC check takes back.
        (Linearised at no EV power, the model under-states the voltage drop and
        loading of heavy charging; this closes that gap where it matters.)"""
        for violation in violations:
            excess = abs(violation.value - violation.limit)
            if violation.metric == "vm_pu_min":
                store, step = self._low_pu, excess + CALIBRATION_PU
            elif violation.metric == "vm_pu_max":
                store, step = self._high_pu, excess + CALIBRATION_PU
            elif violation.metric == "loading_percent":
                store, step = self._branch_percent, excess + CALIBRATION_PERCENT
            else:
                continue
            store[violation.element] = store.get(violation.element, 0.0) + step

    def _operating_point(self, base_factor: float) -> OperatingPoint:
        if self._point is None or self._point[0] != base_factor:
            limits = with_margin(self.limits)
            point = self._check.operating_point(self.base_injections(base_factor), limits)
            self._point = (base_factor, point)
        return self._point[1]

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        return self._check.check(injections)

    def base_injections(self, factor: float) -> list[Injection]:
        return base_load_change(self._load_w, factor)

    def groups(self, buses: Sequence[int], max_groups: int) -> list[int]:
        ids: dict[int, int] = {}
        if len(set(buses)) <= max_groups:
            return [ids.setdefault(int(b), len(ids)) for b in buses]
        return [ids.setdefault(self._lv_grid_of[int(b)], len(ids)) for b in buses]

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
        limits = with_margin(self.limits)
        point = self._operating_point(base_factor)
        connected = set(buses)
        all_buses = [*buses, *(b for b in self._load_w if b not in connected)]
        columns = np.zeros((len(all_buses), weights.shape[1] + 1))
        columns[: len(buses), :-1] = weights
        columns[:, -1] = [self._load_w.get(bus, 0.0) for bus in all_buses]
        model = point.model(all_buses, columns)
        # The fleet moving all one way, with the base load at its least favourable.
        moves = [np.append(up_w, factor_span), np.append(down_w, -factor_span)]

        # How far each row ends up inside its bound (negative: past it) when the
        # fleet moves all one way: voltages against the band, branch currents against
        # the polygon inscribed in their loading disc (conservative by 1 - cos(pi/sides)).
        # In a radial feeder aligned moves add up, so these are the rows that bind.
        dv, di = model.d_vm_pu, model.d_current
        bus_labels = tuple(label.element for label in model.bus_labels)
        branch_labels = tuple(label.element for label in model.branch_labels)
        # Calibration from earlier AC checks: the linear model was optimistic there.
        vm_high = model.vm_pu + self._offsets(self._high_pu, bus_labels)
        vm_low = model.vm_pu - self._offsets(self._low_pu, bus_labels)
        limit = np.array([label.limit for label in model.branch_labels])
        limit = limit - self._offsets(self._branch_percent, branch_labels)
        shrink = np.cos(np.pi / POLYGON_SIDES)
        swings = [dv @ move for move in moves]
        current = [np.abs(model.current + di @ move) for move in moves]
        room_high = limits.vm_pu_max - (vm_high + np.maximum(swings[0], swings[1]))
        room_low = (vm_low + np.minimum(swings[0], swings[1])) - limits.vm_pu_min
        room_branch = (limit * shrink - np.maximum(current[0], current[1])) / np.maximum(
            limit, 1e-9
        )
        high, low, hot = _nearest(room_high, room_low, room_branch, max_rows)
        rows = _element_rows(
            vm_high,
            vm_low,
            dv,
            bus_labels,
            limits.vm_pu_min,
            limits.vm_pu_max,
            model.current,
            di,
            limit,
            branch_labels,
            high,
            low,
            hot,
        )
        # Elements that could bind but did not make the cut wait for row generation.
        bus_left = np.setdiff1d(
            np.flatnonzero((room_high <= 0) | (room_low <= 0)), np.union1d(high, low)
        )
        branch_left = np.setdiff1d(np.flatnonzero(room_branch <= 0), hot)
        pending = PendingRows(
            vm_high[bus_left],
            vm_low[bus_left],
            dv[bus_left],
            tuple(bus_labels[i] for i in bus_left),
            limits.vm_pu_min,
            limits.vm_pu_max,
            model.current[branch_left],
            di[branch_left],
            limit[branch_left],
            tuple(branch_labels[i] for i in branch_left),
        )
        return GridRows(rows.a, rows.b, rows.base, rows.labels, pending)


def _nearest(
    room_high: FloatArray, room_low: FloatArray, room_branch: FloatArray, max_rows: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Indices of the voltage-high, voltage-low and branch rows with no room left
    (voltage room in pu, branch room in parts of the rating, so both read alike),
    least room first, within ``max_rows`` rows (a branch costs POLYGON_SIDES rows)."""
    kinds = np.concatenate(
        [np.zeros(len(room_high)), np.ones(len(room_low)), np.full(len(room_branch), 2)]
    ).astype(np.int64)
    index = np.concatenate(
        [np.arange(len(room_high)), np.arange(len(room_low)), np.arange(len(room_branch))]
    )
    room = np.concatenate([room_high, room_low, room_branch])
    can_bind = np.flatnonzero(room <= 0.0)
    order = can_bind[np.argsort(room[can_bind], kind="stable")]
    cost = np.where(kinds[order] == 2, POLYGON_SIDES, 1)
    order = order[np.cumsum(cost) <= max_rows]
    picked = [np.sort(index[order[kinds[order] == kind]]) for kind in (0, 1, 2)]
    return picked[0], picked[1], picked[2]
