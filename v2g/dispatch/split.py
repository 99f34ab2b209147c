"""Split a group's planned power over its vehicles for the current slot.

Every vehicle first gets its own must-run power (what keeps it on its corridor: its
departure floor, or a must-charge for an unknown battery), unless the group's power is
less than the musts add up to (the grid leaves no more), then less, most surplus
first. Within one bus, more charging goes first to the vehicles with the least
laxity, more discharging first to those with the most energy above their floor.
Across several buses the rest is shared in proportion to each vehicle's room, because
that is how the grid rows assumed the group's power spreads over its buses. A group
total that the vehicles cannot reach is reported by the difference, never forced on
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from v2g.envelope import Flexibility


@dataclass(frozen=True, slots=True)
class Share:
    """One vehicle's power in W (+ = charging) for the current slot, and where it sits
    in its own range: ``at`` is "must" (held by its floor), "upper", "lower" or ""."""

    evse_id: str
    power_w: float
    at: str


def _at(power: float, must: float, low: float, high: float, flex: Flexibility) -> str:
    tolerance = 1.0  # W
    if power >= high - tolerance and high > 0 and high >= float(flex.upper_w[0]) - tolerance:
        return "upper"
    if power <= low + tolerance and low < 0 and low <= float(flex.lower_w[0]) + tolerance:
        return "lower"
    if abs(power - must) <= tolerance and must > max(0.0, float(flex.lower_w[0])) + tolerance:
        return "must"
    return ""


def split(
    power_w: float,
    vehicles: Sequence[Flexibility],
    slot_h: float,
    ranges: Sequence[tuple[float, float]] | None = None,
) -> list[Share]:
    """Shares of ``power_w`` for ``vehicles`` in slot 0 (see the module docstring).
    ``ranges``: each vehicle's ``slot0_range_w(slot_h)`` where the caller has them."""
    ranges = [v.slot0_range_w(slot_h) for v in vehicles] if ranges is None else list(ranges)
    # Start where each vehicle is happiest alone: 0 W if its range allows, else the
    # nearest end (a floor that needs charging now, or a ceiling it is above).
    powers = [min(max(0.0, low), high) for low, high in ranges]
    rest = power_w - sum(powers)
    if len({v.bus for v in vehicles}) > 1:
        powers = _in_proportion(powers, ranges, rest)
    elif rest > 0:
        order = sorted(
            range(len(vehicles)), key=lambda i: (-vehicles[i].priority, vehicles[i].laxity_s)
        )
        for i in order:
            add = min(rest, ranges[i][1] - powers[i])
            powers[i] += add
            rest -= add
            if rest <= 0:
                break
    elif rest < 0:

        def surplus(i: int) -> float:
            flex = vehicles[i]
            return flex.energy_wh - float(flex.floor_wh[0])

        order = sorted(range(len(vehicles)), key=lambda i: (vehicles[i].priority, -surplus(i)))
        # Down to each vehicle's must-run power first; below it only if the plan (the
        # grid) leaves less than the musts add up to: a departure need is elastic.
        musts = [low for low, _ in ranges]
        for lowest in (musts, [min(low, 0.0) for low in musts]):
            for i in order:
                take = min(-rest, max(powers[i] - lowest[i], 0.0))
                powers[i] -= take
                rest += take
                if rest >= 0:
                    break
            if rest >= 0:
                break
    musts = [min(max(0.0, low), high) if low > 0 else low for low, high in ranges]
    return [
        Share(v.evse_id, p, _at(p, must, low, high, v))
        for v, p, must, (low, high) in zip(vehicles, powers, musts, ranges, strict=True)
    ]


def _in_proportion(
    powers: list[float], ranges: list[tuple[float, float]], rest: float
) -> list[float]:
    """``rest`` shared in proportion to each vehicle's room in that direction."""
    room = [
        (high - p) if rest > 0 else (p - low)
        for p, (low, high) in zip(powers, ranges, strict=True)
    ]
    total = sum(room)
    if total <= 0:
        return powers
    part = min(abs(rest) / total, 1.0)
    sign = 1.0 if rest > 0 else -1.0
    return [p + sign * part * r for p, r in zip(powers, room, strict=True)]
