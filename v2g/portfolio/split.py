"""Split a portfolio's DR export target across its feeders (pure).

Each feeder publishes its fleet envelope; the discharge it can offer for an event is
the least ``-lower_w`` over the envelope's slots that the event covers (0 where the
envelope does not reach). One small LP, solved by HiGHS as the planner's are:

    maximise   sum(x_i) - eps * u
    subject to 0 <= x_i <= offer_i,   x_i <= u * offer_i,
               sum(x_i) <= target,    sum(x_i) <= mv_export_cap (when configured)

The first term delivers as much of the target as the envelopes and the shared MV
transformer allow; the small second one (``u``, the highest share of its offer any
feeder is asked for) spreads that over the feeders in proportion to their offers
instead of loading the first ones to the brim, so each keeps the same headroom for
its own grid and departures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import scipy.sparse as sp

from v2g.dispatch.lp import solve_lp
from v2g.envelope import FleetEnvelope, Horizon
from v2g.envelope.flexibility import FloatArray

#: Weight of the spreading term, per W of all offers, against a W delivered (small:
#: delivery comes first).
_SPREAD_WEIGHT = 1e-3


def _bounds(horizon: Horizon) -> tuple[datetime, ...]:
    return tuple(horizon.start + timedelta(seconds=float(s)) for s in horizon.offsets_s)


def _floats(values: FloatArray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True, slots=True)
class PublishedEnvelope:
    """A feeder's fleet envelope as a shard publishes it: the slots' bounds (one more
    than slots) and each slot's signed power range (W, + = charging)."""

    bounds: tuple[datetime, ...]
    lower_w: tuple[float, ...]
    upper_w: tuple[float, ...]

    @classmethod
    def of(cls, envelope: FleetEnvelope) -> PublishedEnvelope:
        bounds = _bounds(envelope.horizon)
        return cls(bounds, _floats(envelope.lower_w), _floats(envelope.upper_w))

    @classmethod
    def of_power(cls, horizon: Horizon, power_w: FloatArray) -> PublishedEnvelope:
        """A planned power per slot, as a range of width 0 (only as many slots as
        planned: a fallback plans slot 0 alone)."""
        bounds = _bounds(horizon)[: len(power_w) + 1]
        return cls(bounds, _floats(power_w), _floats(power_w))

    def export_offer_w(self, start: datetime, end: datetime) -> float:
        """The discharge (W, >= 0) this feeder can hold through ``start``..``end``: the
        least over the covered slots; 0 when the envelope does not reach the end."""
        if not self.lower_w or self.bounds[-1] < end:
            return 0.0
        covered = [
            lower
            for low, high, lower in zip(self.bounds, self.bounds[1:], self.lower_w, strict=False)
            if low < end and high > start
        ]
        return max(0.0, -max(covered)) if covered else 0.0


@dataclass(frozen=True, slots=True)
class Split:
    """Each feeder's export share (W) and the total the split could place."""

    shares_w: Mapping[str, float]
    offers_w: Mapping[str, float]
    target_w: float

    @property
    def placed_w(self) -> float:
        return float(sum(self.shares_w.values()))


def split_export(
    target_w: float, offers_w: Mapping[str, float], mv_export_cap_w: float | None = None
) -> Split:
    """The LP of the module docstring: each feeder's share of ``target_w``."""
    names = sorted(offers_w)
    offers = np.array([max(0.0, offers_w[n]) for n in names], dtype=np.float64)
    if not names or target_w <= 0 or offers.sum() <= 0:
        return Split(dict.fromkeys(names, 0.0), dict(offers_w), target_w)
    count = len(names)
    # Columns: x_0..x_{n-1}, u.
    cost = np.concatenate([-np.ones(count), [_SPREAD_WEIGHT * offers.sum()]])
    spread = sp.hstack([sp.identity(count), sp.csc_matrix(-offers.reshape(-1, 1))])
    total = sp.csc_matrix(np.concatenate([np.ones(count), [0.0]]).reshape(1, -1))
    limit = min(target_w, mv_export_cap_w) if mv_export_cap_w is not None else target_w
    a_ub = sp.vstack([spread, total], format="csc")
    b_ub = np.concatenate([np.zeros(count), [limit]])
    bounds = np.column_stack([np.zeros(count + 1), np.concatenate([offers, [1.0]])])
    solution = solve_lp(cost, a_ub, b_ub, sp.csc_matrix((0, count + 1)), np.zeros(0), bounds, 1.0)
    shares = {n: max(0.0, float(x)) for n, x in zip(names, solution.x[:count], strict=True)}
    return Split(shares, dict(offers_w), target_w)
