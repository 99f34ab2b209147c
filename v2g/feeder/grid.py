"""The feeder as the planner sees it, answered by gridmodel: ``FeederGrid`` implements
the ``GridModel`` seam of ``v2g.dispatch`` with rows from the power-flow Jacobian at the
base-load operating point and the exact AC check, and keeps what it learns from AC
checks that disagreed with its rows (calibration state: not pure, so not in dispatch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from gridmodel import AcGridCheck, GridVerdict, Injection, Violation
from gridmodel.limits import with_margin
from gridmodel.linear import Linearisation, Sensitivities
from gridmodel.loads import base_load_change, own_load_w
from gridmodel.topology import substation_groups
from v2g.dispatch.grid import POLYGON_SIDES, FloatArray, GridRows, PendingRows, element_rows

#: Extra margin added to an element each time the AC check catches it (pu, percent).
CALIBRATION_PU = 0.001
CALIBRATION_PERCENT = 0.5


#: Columns of sensitivities kept between cycles at most (each a few hundred kB on a
#: 10,000-bus network).
MEMO_COLUMNS = 2_000


class FeederGrid:
    """``GridModel`` on a gridmodel network: the fast AC check and Jacobian rows."""

    def __init__(self, check: AcGridCheck) -> None:
        self._check = check
        self.network = check.network
        self.limits = check.limits
        self._load_w = own_load_w(check.network)
        # The linearisation point is the base load alone (no EV power) at a profile
        # factor: the same for every cycle until the factor changes, so keep the last.
        self._point: tuple[float, Linearisation] | None = None
        # State changes per column (a group's spread over its buses, or the base load)
        # at that point: a fleet whose groups did not change reuses them next cycle.
        self._columns: dict[bytes, FloatArray] = {}
        # The last model handed out, by its columns' keys: a fleet whose groups did not
        # change gets it again without stacking 20,000-row columns anew.
        self._last: tuple[tuple[bytes, ...], Sensitivities] | None = None
        # Per operating point: element names and branch limits (the same every cycle).
        self._names: tuple[tuple[str, ...], tuple[str, ...], FloatArray] | None = None
        # The buses of the last fleet, with the network's other loaded buses appended,
        # and the base-load column over them.
        self._bus_layout: tuple[tuple[int, ...], list[int], FloatArray] | None = None
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

    def _operating_point(self, base_factor: float) -> Linearisation:
        if self._point is None or self._point[0] != base_factor:
            limits = with_margin(self.limits)
            point = self._check.operating_point(self.base_injections(base_factor), limits)
            self._point = (base_factor, point)
            self._columns, self._last, self._names = {}, None, None
        return self._point[1]

    def _model(self, point: Linearisation, buses: list[int], columns: FloatArray) -> Sensitivities:
        """``point.sensitivities`` for ``columns``, computing only the columns not seen
        at this operating point before (a memo: the answer is the same either way)."""
        bus_array = np.asarray(buses, dtype=np.int64)
        keys = []
        for c in range(columns.shape[1]):
            moved = np.flatnonzero(columns[:, c])
            keys.append(bus_array[moved].tobytes() + columns[moved, c].tobytes())
        if self._last is not None and self._last[0] == tuple(keys):
            return self._last[1]
        missing = [c for c, key in enumerate(keys) if key not in self._columns]
        fresh = point.states(buses, columns[:, missing]) if missing else np.zeros((0, 0))
        found = {keys[c]: fresh[:, j] for j, c in enumerate(missing)}
        if len(missing) == len(keys):
            states = fresh  # all new (a first cycle): nothing to stack
        else:
            memo = self._columns
            states = np.column_stack([found[key] if key in found else memo[key] for key in keys])
        if len(self._columns) + len(found) > MEMO_COLUMNS:
            self._columns = {}
        self._columns.update(found)
        model = point.sensitivities(buses, states)
        self._last = (tuple(keys), model)
        return model

    def _layout(self, buses: Sequence[int]) -> tuple[list[int], FloatArray]:
        """``buses`` and then the network's other loaded buses, and the base load (W)
        on each: the same for every cycle whose fleet sits on the same buses."""
        key = tuple(buses)
        if self._bus_layout is None or self._bus_layout[0] != key:
            connected = set(buses)
            all_buses = [*buses, *(b for b in self._load_w if b not in connected)]
            load = np.array([self._load_w.get(bus, 0.0) for bus in all_buses])
            self._bus_layout = (key, all_buses, load)
        return self._bus_layout[1], self._bus_layout[2]

    def _element_names(
        self, model: Sensitivities
    ) -> tuple[tuple[str, ...], tuple[str, ...], FloatArray]:
        """Bus and branch names and branch limits of ``model`` (one operating point's)."""
        if self._names is None:
            self._names = (
                tuple(label.element for label in model.bus_labels),
                tuple(label.element for label in model.branch_labels),
                np.array([label.limit for label in model.branch_labels]),
            )
        return self._names

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
        all_buses, load = self._layout(buses)
        columns = np.zeros((len(all_buses), weights.shape[1] + 1))
        columns[: len(buses), :-1] = weights
        columns[:, -1] = load
        model = self._model(point, all_buses, columns)
        # The fleet moving all one way, with the base load at its least favourable.
        moves = [np.append(up_w, factor_span), np.append(down_w, -factor_span)]

        # How far each row ends up inside its bound (negative: past it) when the
        # fleet moves all one way: voltages against the band, branch currents against
        # the polygon inscribed in their loading disc (conservative by 1 - cos(pi/sides)).
        # In a radial feeder aligned moves add up, so these are the rows that bind.
        bus_labels, branch_labels, rated = self._element_names(model)
        # Calibration from earlier AC checks: the linear model was optimistic there.
        vm_high = model.vm_pu + self._offsets(self._high_pu, bus_labels)
        vm_low = model.vm_pu - self._offsets(self._low_pu, bus_labels)
        limit = rated - self._offsets(self._branch_percent, branch_labels)
        shrink = np.cos(np.pi / POLYGON_SIDES)
        along = [model.states @ move for move in moves]  # one state change per move
        swings = [model.vm_of(state) for state in along]
        current = [np.abs(model.current + model.current_of(state)) for state in along]
        room_high = limits.vm_pu_max - (vm_high + np.maximum(swings[0], swings[1]))
        room_low = (vm_low + np.minimum(swings[0], swings[1])) - limits.vm_pu_min
        room_branch = (limit * shrink - np.maximum(current[0], current[1])) / np.maximum(
            limit, 1e-9
        )
        high, low, hot = _nearest(room_high, room_low, room_branch, max_rows)
        # Elements that could bind but did not make the cut wait for row generation.
        bus_left = np.setdiff1d(
            np.flatnonzero((room_high <= 0) | (room_low <= 0)), np.union1d(high, low)
        )
        branch_left = np.setdiff1d(np.flatnonzero(room_branch <= 0), hot)
        # Sensitivity rows only for the elements kept or pending: row i of ``dv`` is
        # bus ``on_buses[i]``, row i of ``di`` branch end ``on_branches[i]``.
        on_buses = np.concatenate([high, low, bus_left])
        on_branches = np.concatenate([hot, branch_left])
        dv, di = model.vm_rows_of(on_buses), model.current_rows_of(on_branches)
        picked, pending_bus = np.arange(len(high) + len(low)), len(high) + len(low)
        rows = element_rows(
            vm_high[on_buses],
            vm_low[on_buses],
            dv,
            [bus_labels[i] for i in on_buses],
            limits.vm_pu_min,
            limits.vm_pu_max,
            model.current[on_branches],
            di,
            limit[on_branches],
            [branch_labels[i] for i in on_branches],
            picked[: len(high)],
            picked[len(high) :],
            np.arange(len(hot)),
        )
        pending = PendingRows(
            vm_high[bus_left],
            vm_low[bus_left],
            dv[pending_bus:],
            tuple(bus_labels[i] for i in bus_left),
            limits.vm_pu_min,
            limits.vm_pu_max,
            model.current[branch_left],
            di[len(hot) :],
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
