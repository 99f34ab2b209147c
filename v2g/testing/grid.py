"""CapacityGrid: a feeder reduced to one transformer limit, for pure-logic tests.

It answers the planner's ``GridModel`` seam exactly: the linear row is the AC check,
so tests can reason about grid caps by hand. Real feeders are tested with gridmodel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gridmodel import GridVerdict, Injection, Violation
from v2g.dispatch.grid import FloatArray, GridRows

#: The bus that carries the fake's base load.
BASE_BUS = -1
#: Loading above 100 % by less than this is floating-point rounding, not overload.
LOADING_TOLERANCE_PERCENT = 1e-6


class CapacityGrid:
    """Every bus behind one transformer of ``capacity_w`` (W, load direction and
    export direction alike), carrying ``base_load_w`` at factor 1."""

    def __init__(self, capacity_w: float, base_load_w: float = 0.0, name: str = "trafo 0") -> None:
        self.capacity_w = capacity_w
        self.base_load_w = base_load_w
        self.name = name
        self.checks = 0

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        self.checks += 1
        total = self.base_load_w + sum(i.power_w for i in injections)
        loading = 100.0 * abs(total) / self.capacity_w
        violations = (
            (Violation(self.name, "loading_percent", loading, 100.0),)
            # Rounding of a plan exactly at the limit is no violation.
            if loading > 100.0 + LOADING_TOLERANCE_PERCENT
            else ()
        )
        return GridVerdict(violations, 0.0, loading, 1.0, 1.0)

    def base_injections(self, factor: float) -> list[Injection]:
        change = (factor - 1.0) * self.base_load_w
        return [Injection(BASE_BUS, change)] if change else []

    def calibrate(self, violations: Sequence[Violation]) -> None:
        """The fake's row is exact: nothing to learn."""

    def groups(self, buses: Sequence[int], max_groups: int) -> list[int]:
        ids: dict[int, int] = {}
        return [ids.setdefault(int(b), len(ids)) for b in buses]

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
        # Total power moved per W of each group (weights sum to 1 per group).
        per_group = weights.sum(axis=0)
        base_now = self.base_load_w * base_factor
        label = f"{self.name} loading_percent <= 100"
        return GridRows(
            a=np.vstack([per_group, -per_group]),
            b=self.row_bounds_w(base_now),
            base=np.array([self.base_load_w, -self.base_load_w]),
            labels=(label, label),
        )

    def row_bounds_w(self, base_now_w: float) -> FloatArray:
        """Room for the fleet's net power (W): charging, then discharging."""
        return np.array([self.capacity_w - base_now_w, self.capacity_w + base_now_w])


class RefusingGrid(CapacityGrid):
    """A feeder whose linear rows see room for ``capacity_w`` but whose AC check fails
    any EV power at all (``element`` overloaded): the plan must be curtailed to zero."""

    def __init__(self, capacity_w: float, element: str = "line 7") -> None:
        super().__init__(capacity_w, name=element)

    def check(self, injections: Sequence[Injection]) -> GridVerdict:
        self.checks += 1
        if any(i.power_w for i in injections):
            return GridVerdict(
                (Violation(self.name, "loading_percent", 180.0, 100.0),), 0.0, 180.0, 1.0, 1.0
            )
        return GridVerdict((), 0.0, 0.0, 1.0, 1.0)


class ContradictoryRowsGrid(CapacityGrid):
    """A feeder whose linear rows contradict each other (fleet power >= 1 W and <= -1 W
    at once): the allocation LP has no solution, while the AC check accepts anything up
    to ``capacity_w``. The planner must fall back to a rule that still sees the grid."""

    def row_bounds_w(self, base_now_w: float) -> FloatArray:
        return np.array([-1.0, -1.0])
