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

from gridmodel import AcGridCheck, GridVerdict, Injection
from gridmodel.loads import base_load_change, own_load_w
from gridmodel.planning import substation_groups, with_margin

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

    @classmethod
    def empty(cls, columns: int) -> GridRows:
        return cls(np.zeros((0, columns)), np.zeros(0), np.zeros(0), ())

    @property
    def count(self) -> int:
        return len(self.labels)


class GridModel(Protocol):
    """What the planner needs from the grid."""

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        """The exact verdict on EV power per bus (W, + = load) on top of the base load."""
        ...

    def base_injections(self, factor: float) -> list[Injection]:
        """Injections that scale the network's own loads to ``factor`` times."""
        ...

    def groups(self, buses: Sequence[int], max_groups: int) -> list[int]:
        """A group id per bus: at most about ``max_groups`` groups of buses that the
        planner treats as one (per bus when few, per low-voltage grid when many)."""
        ...

    def rows(
        self,
        weights: FloatArray,
        buses: Sequence[int],
        reach_w: FloatArray,
        base_factor: float,
        factor_span: float,
    ) -> GridRows:
        """Rows for group powers: column g moves bus ``buses[j]`` by ``weights[j, g]`` W
        per W. Only rows that can bind within ``reach_w`` per group and a base-load
        factor within ``base_factor`` +- ``factor_span`` are returned."""
        ...


class FeederGrid:
    """``GridModel`` on a gridmodel network: the fast AC check and Jacobian rows."""

    def __init__(self, check: AcGridCheck) -> None:
        self._check = check
        self.network = check.network
        self.limits = check.limits
        self._load_w = own_load_w(check.network)

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        return self._check.check(injections)

    def base_injections(self, factor: float) -> list[Injection]:
        return base_load_change(self._load_w, factor)

    def groups(self, buses: Sequence[int], max_groups: int) -> list[int]:
        if len(set(buses)) <= max_groups:
            ids: dict[int, int] = {}
            return [ids.setdefault(int(b), len(ids)) for b in buses]
        return substation_groups(self.network, buses)

    def rows(
        self,
        weights: FloatArray,
        buses: Sequence[int],
        reach_w: FloatArray,
        base_factor: float,
        factor_span: float,
    ) -> GridRows:
        limits = with_margin(self.limits)
        point = self._check.operating_point(self.base_injections(base_factor), limits)
        load_buses = [b for b in self._load_w if b not in set(buses)]
        all_buses = [*buses, *load_buses]
        columns = np.zeros((len(all_buses), weights.shape[1] + 1))
        columns[: len(buses), :-1] = weights
        for j, bus in enumerate(all_buses):
            columns[j, -1] = self._load_w.get(bus, 0.0)
        model = point.model(all_buses, columns)
        reach = np.append(reach_w, factor_span)

        # Voltage rows that a move within reach can push across the band.
        dv = model.d_vm_pu
        swing = np.abs(dv) @ reach
        high = model.vm_pu + swing > limits.vm_pu_max
        low = model.vm_pu - swing < limits.vm_pu_min
        rows_a = [dv[high], -dv[low]]
        rows_b = [limits.vm_pu_max - model.vm_pu[high], model.vm_pu[low] - limits.vm_pu_min]
        labels = [
            f"{model.bus_labels[i].element} vm_pu <= {limits.vm_pu_max:g}"
            for i in np.flatnonzero(high)
        ]
        labels += [
            f"{model.bus_labels[i].element} vm_pu >= {limits.vm_pu_min:g}"
            for i in np.flatnonzero(low)
        ]

        # Branch rows: a disc |I| <= L, kept only if within reach it can touch L, then
        # replaced by an inscribed polygon (conservative).
        di = model.d_current
        limit = np.array([label.limit for label in model.branch_labels])
        shrink = np.cos(np.pi / POLYGON_SIDES)
        hot = np.abs(model.current) + np.abs(di) @ reach > limit * shrink
        for k in range(POLYGON_SIDES):
            rotation = np.exp(-2j * np.pi * k / POLYGON_SIDES)
            rows_a.append(np.real(rotation * di[hot]))
            rows_b.append(limit[hot] * shrink - np.real(rotation * model.current[hot]))
            labels += [
                f"{model.branch_labels[i].element} loading_percent <= {limit[i]:g}"
                for i in np.flatnonzero(hot)
            ]
        a_full = np.vstack(rows_a) if rows_a else np.zeros((0, columns.shape[1]))
        return GridRows(
            a=np.ascontiguousarray(a_full[:, :-1]),
            b=np.concatenate(rows_b),
            base=np.ascontiguousarray(a_full[:, -1]),
            labels=tuple(labels),
        )
