"""Split a portfolio's DR targets across its feeders (pure).

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

    def covered_lower_w(self, start: datetime, end: datetime) -> list[float]:
        """The range's lower end in each slot that ``start``..``end`` touches."""
        return [
            lower
            for low, high, lower in zip(self.bounds, self.bounds[1:], self.lower_w, strict=False)
            if low < end and high > start
        ]

    def export_offer_w(self, start: datetime, end: datetime) -> float:
        """The discharge (W, >= 0) this feeder can hold through ``start``..``end``: the
        least over the covered slots; 0 when the envelope does not reach the end."""
        if not self.lower_w or self.bounds[-1] < end:
            return 0.0
        covered = self.covered_lower_w(start, end)
        return max(0.0, -max(covered)) if covered else 0.0

    def import_need_w(self, start: datetime, end: datetime) -> float:
        """The least import (W, >= 0) this feeder must keep through ``start``..``end``:
        the most its range's lower end asks in a covered slot (its cars' departures).
        Of a planned power (width 0): the most it planned to import there."""
        return max([0.0, *self.covered_lower_w(start, end)])


@dataclass(frozen=True, slots=True)
class Split:
    """Each feeder's share (W) of a portfolio target, what each offered for it (the
    split's basis), and the target."""

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


def split_import_limit(
    limit_w: float, needs_w: Mapping[str, float], planned_w: Mapping[str, float]
) -> Split:
    """Each feeder's share of a portfolio import limit (the shares sum to it): first
    what each feeder must import for its departures (scaled down alike when the limit
    is below their sum: the feeders' planners then state what they give up), then the
    rest in proportion to what each planned beyond its need (evenly if none did)."""
    names = sorted(set(needs_w) | set(planned_w))
    if not names:
        return Split({}, {}, limit_w)
    need = np.array([max(0.0, needs_w.get(n, 0.0)) for n in names])
    want = np.array([max(0.0, planned_w.get(n, 0.0)) for n in names]) - need
    want = np.maximum(want, 0.0)
    if need.sum() >= limit_w:
        shares = need * (max(limit_w, 0.0) / need.sum()) if need.sum() > 0 else need
    else:
        weights = want / want.sum() if want.sum() > 0 else np.full(len(names), 1 / len(names))
        shares = need + (limit_w - need.sum()) * weights
    offers = {n: float(need[i] + want[i]) for i, n in enumerate(names)}
    return Split(dict(zip(names, shares.tolist(), strict=True)), offers, limit_w)


def split_shed(target_w: float, rooms_w: Mapping[str, float]) -> Split:
    """Each feeder's share of a portfolio shed target: in proportion to the import it
    planned beyond its need (its room to shed), at most that room each."""
    names = sorted(rooms_w)
    rooms = np.array([max(0.0, rooms_w[n]) for n in names])
    if not names or target_w <= 0 or rooms.sum() <= 0:
        return Split(dict.fromkeys(names, 0.0), dict(rooms_w), target_w)
    shares = np.minimum(rooms, target_w * rooms / rooms.sum())
    return Split(dict(zip(names, shares.tolist(), strict=True)), dict(rooms_w), target_w)
