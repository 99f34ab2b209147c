"""The horizon LP plans the far future in blocks of slots that nothing tells apart."""

from __future__ import annotations

import numpy as np

from v2g.dispatch.allocation import time_blocks

INF = np.inf


def test_the_first_slots_stay_single_and_later_equal_slots_join_up_to_an_hour():
    cap = np.full(16, INF)
    prices = np.full(16, 0.3)
    factors = np.ones(16)
    assert list(time_blocks(cap, prices, factors, fine=4, longest=4)) == [0, 1, 2, 3, 4, 8, 12]


def test_a_price_step_a_dr_cap_or_a_load_change_starts_a_new_block():
    cap = np.array([INF] * 6 + [-5000.0] * 3 + [INF] * 3)
    prices = np.array([0.3] * 10 + [0.1] * 2)
    factors = np.array([1.0] * 11 + [0.8])
    starts = list(time_blocks(cap, prices, factors, fine=2, longest=8))
    assert starts == [0, 1, 2, 6, 9, 10, 11]
