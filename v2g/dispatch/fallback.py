"""The rule that plans slot 0 when the LP solver itself fails: earliest departure first,
charge only, within the fleet cap and within slot 0's linear grid rows (so it still sees
the grid; the AC check then has the last word as for every plan)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from v2g.dispatch.grid import FloatArray, GridRows
from v2g.dispatch.split import Share
from v2g.envelope import Flexibility


def _room_w(rows: GridRows, slack: FloatArray, column: int) -> float:
    """How much more charging (W) group ``column`` can take before a row binds."""
    if not rows.count:
        return float("inf")
    push = rows.a[:, column]
    pushing = push > 0
    if not pushing.any():
        return float("inf")
    return float(max(np.min(slack[pushing] / push[pushing]), 0.0))


def within_rows(
    flexes: Sequence[Flexibility],
    group_of: Sequence[int],
    rows: GridRows,
    cap_w: float,
    slot_h: float,
) -> list[Share]:
    """Slot-0 shares, charge only: the vehicles' needed power first, then more, both in
    order of priority and earliest departure, each only as far as the fleet cap and every
    grid row allow (a row the base load alone breaks allows nothing more)."""
    slack = np.maximum(rows.b, 0.0).astype(np.float64)
    ranges = [f.slot0_range_w(slot_h) for f in flexes]
    powers = [0.0] * len(flexes)
    budget = cap_w if np.isfinite(cap_w) else float("inf")
    order = sorted(range(len(flexes)), key=lambda i: (-flexes[i].priority, flexes[i].dwell_s))
    needed = [max(low, 0.0) for low, _ in ranges]
    most = [max(high, 0.0) for _, high in ranges]
    for wanted in (needed, most):
        for i in order:
            add = min(wanted[i] - powers[i], max(budget, 0.0), _room_w(rows, slack, group_of[i]))
            if add <= 0:
                continue
            powers[i] += add
            budget -= add
            if rows.count:
                slack = slack - rows.a[:, group_of[i]] * add
    return [
        Share(f.evse_id, p, "upper" if p >= high - 1.0 and p > 0 else "")
        for f, p, (_, high) in zip(flexes, powers, ranges, strict=True)
    ]
