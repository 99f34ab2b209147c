"""FeederGrid remembers sensitivities per column between cycles: the rows it gives
with the memo are the rows a fresh adapter gives."""

from __future__ import annotations

import numpy as np

from gridmodel import AcGridCheck, load_network
from v2g.feeder import FeederGrid


def _rows(grid: FeederGrid, buses: list[int], weights: np.ndarray):  # type: ignore[no-untyped-def]
    groups = weights.shape[1]
    return grid.rows(
        weights, buses, np.full(groups, 60_000.0), np.full(groups, -60_000.0), 1.0, 0.2, 500
    )


def test_rows_from_remembered_columns_equal_rows_computed_afresh():
    network = load_network("cigre-lv")
    buses = network.connection_buses()[:6]
    first = np.eye(len(buses))
    # The next cycle: two groups merged, one bus gone, the others unchanged.
    second = np.zeros((len(buses) - 1, 4))
    second[0, 0] = second[1, 0] = 0.5
    second[2, 1] = second[3, 2] = second[4, 3] = 1.0
    remembering = FeederGrid(AcGridCheck(network))
    _rows(remembering, buses, first)
    for weights, on in ((first, buses), (second, buses[:-1])):
        memo = _rows(remembering, on, weights)
        fresh = _rows(FeederGrid(AcGridCheck(network)), on, weights)
        assert memo.count > 0 and memo.labels == fresh.labels
        np.testing.assert_allclose(memo.a, fresh.a, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(memo.b, fresh.b, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(memo.base, fresh.base, rtol=1e-9, atol=1e-15)
