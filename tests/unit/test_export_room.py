"""How much the site's chargers may export together within the grid rows
(v2g.dispatch.grid.export_room_w), on the one-transformer fake feeder."""

from __future__ import annotations

import pytest

from v2g.dispatch.grid import export_room_w
from v2g.testing.grid import CapacityGrid


def test_export_is_held_to_the_transformer_plus_the_base_load_it_feeds():
    grid = CapacityGrid(capacity_w=50_000, base_load_w=20_000)
    chargers = {1: 44_000.0, 2: 22_000.0}  # 66 kW of discharge ratings

    # Export first feeds the base load, then reverses the transformer up to its rating.
    assert export_room_w(grid, chargers, 1.0, 1.0) == pytest.approx(66_000)
    assert export_room_w(grid, chargers, 1.0, 0.5) == pytest.approx(60_000)
    assert export_room_w(CapacityGrid(30_000, 0.0), chargers, 1.0, 1.0) == pytest.approx(30_000)


def test_no_discharge_rating_no_export_and_a_broken_row_gives_none():
    assert export_room_w(CapacityGrid(50_000), {1: 0.0}, 1.0, 1.0) == 0.0
    # Base load so negative (local generation) that the transformer already reverses
    # past its rating: exporting would load it further.
    grid = CapacityGrid(capacity_w=10_000, base_load_w=-15_000)
    assert export_room_w(grid, {1: 22_000.0}, 1.0, 1.0) == 0.0
