"""FeederGrid: the planner's rows from gridmodel, and what it learns from AC checks."""

from __future__ import annotations

import numpy as np
import pytest

from gridmodel import AcGridCheck, GridLimits, Violation, load_network
from v2g.feeder import FeederGrid


def rows_for(grid: FeederGrid, bus: int):
    weights = np.ones((1, 1))
    return grid.rows(weights, [bus], np.array([200_000.0]), np.array([0.0]), 1.0, 0.0, 2000)


def test_an_ac_check_that_disagreed_makes_that_element_stricter_in_later_rows():
    network = load_network("cigre-lv", GridLimits(vm_pu_min=0.93, vm_pu_max=1.05))
    grid = FeederGrid(AcGridCheck(network))
    bus = network.resolve_bus("Bus R18")
    before = rows_for(grid, bus)
    element = "bus 19 'Bus R18'"
    [row] = [i for i, label in enumerate(before.labels) if label.startswith(element + " vm_pu >=")]

    grid.calibrate([Violation(element, "vm_pu_min", 0.925, 0.93)])
    after = rows_for(grid, bus)
    [again] = [
        i for i, label in enumerate(after.labels) if label.startswith(element + " vm_pu >=")
    ]
    # 5e-3 pu of excess plus the learning margin, taken off the row's room.
    assert after.b[again] == pytest.approx(before.b[row] - 0.005 - 0.001)

    # Other elements are untouched.
    def others(rows):
        return [
            (label, b)
            for label, b in zip(rows.labels, rows.b, strict=True)
            if element not in label
        ]

    assert others(after) == others(before)
