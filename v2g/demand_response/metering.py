"""M&V from meters (pure): what the meters saw over exactly an event's window, against
two stated baselines.

Metered energy. Each meter (one charging session) reports power samples (W, + =
charging). A sample's power holds from its time until the meter's next sample, the
session's end, or ``hold_s`` later (a meter that stopped reporting is not assumed to
go on), whichever comes first; the held power is integrated over the part that lies
within [start, end) of the event, which are clock times, not plan slots. The fleet's
energy is the sum over its meters.

Baselines (what the fleet would have used without the event):

- ``plan``: the plan without DR events (``DispatchPlan.baseline_w``, the ledger
  integrates it over the window: ``Measurement.baseline_wh``).
- ``meter``: from stored meter data, as utilities settle (``MeterBaselineRule``):
  the same clock window (UTC) on the ``of_days`` most recent similar days before
  the event (weekdays for an event on a weekday, Saturdays and Sundays for one on a
  weekend) that have meter data, the ``highest`` of them by energy averaged ("high
  X of Y"; X = Y is the plain mean). Fewer than ``min_days`` such days: no meter
  baseline, and the result says so.

Delivered, per baseline: ``baseline_wh - metered_wh`` (the energy the fleet did not
draw, or gave back, compared to the baseline). The headline ``delivered_metered_wh``
follows the dispatch rule of ``v2g.demand_response.measurement``: for ``export_w``
the metered discharge (``-metered_wh``), else the plan baseline minus the metered
energy. A vehicle that ignores its setpoint draws what it draws, so it shows as a
shortfall (``asked_wh - delivered_metered_wh``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from v2g.demand_response.event import DemandResponseEvent


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One power reading (W, + = charging) of one meter (a charging session)."""

    meter: str
    at: datetime
    power_w: float


def metered_energy_wh(
    samples: Sequence[MeterSample],
    start: datetime,
    end: datetime,
    ends: Mapping[str, datetime] | None = None,
    hold_s: float = 900.0,
) -> float:
    """Energy (Wh, + = charging) the meters saw over [start, end) (module rule)."""
    by_meter: dict[str, list[MeterSample]] = defaultdict(list)
    for sample in samples:
        by_meter[sample.meter].append(sample)
    total = 0.0
    hold = timedelta(seconds=hold_s)
    for meter, found in by_meter.items():
        found.sort(key=lambda s: s.at)
        stop = (ends or {}).get(meter)
        for sample, following in zip(found, [*found[1:], None], strict=True):
            until = sample.at + hold
            if following is not None:
                until = min(until, following.at)
            if stop is not None:
                until = min(until, stop)
            overlap_s = (min(until, end) - max(sample.at, start)).total_seconds()
            if overlap_s > 0:
                total += sample.power_w * overlap_s / 3600.0
    return total


@dataclass(frozen=True, slots=True)
class MeterBaselineRule:
    """High ``highest`` of ``of_days`` similar days (see the module docstring)."""

    of_days: int = 10
    highest: int = 10
    min_days: int = 3
    #: How far back (calendar days) similar days with data are looked for.
    search_days: int = 45

    def __post_init__(self) -> None:
        if not 1 <= self.highest <= self.of_days:
            raise ValueError(f"need 1 <= highest <= of_days, got {self.highest}, {self.of_days}")
        if not 1 <= self.min_days <= self.of_days:
            raise ValueError(f"need 1 <= min_days <= of_days, got {self.min_days}")

    def describe(self) -> str:
        pick = "mean" if self.highest == self.of_days else f"mean of the highest {self.highest}"
        return (
            f"{pick} of the same UTC clock window on the {self.of_days} most recent similar "
            f"days (weekday or weekend, as the event's start) with meter data; at least "
            f"{self.min_days} needed ({self.highest} of {self.of_days})"
        )


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline's energy over the window (None when it could not be formed), the
    rule that made it, and, for the meter baseline, the days it used."""

    rule: str
    energy_wh: float | None
    days: tuple[str, ...] = ()
    reason: str = ""

    def as_dict(self, metered_wh: float) -> dict[str, object]:
        found: dict[str, object] = {
            "rule": self.rule,
            "energy_wh": None if self.energy_wh is None else round(self.energy_wh, 3),
            "delivered_wh": (
                None if self.energy_wh is None else round(self.energy_wh - metered_wh, 3)
            ),
        }
        if self.days:
            found["days"] = list(self.days)
        if self.reason:
            found["reason"] = self.reason
        return found


def similar(day: datetime, event_day: datetime) -> bool:
    """Same kind of day: both weekdays, or both on a weekend (UTC)."""
    return (day.weekday() >= 5) == (event_day.weekday() >= 5)


def meter_baseline(
    start: datetime, end: datetime, rule: MeterBaselineRule, energy_on: Mapping[int, float | None]
) -> Baseline:
    """The meter baseline from ``energy_on`` (days back -> metered Wh over the window
    shifted back that many days, None without data that day); see ``days_to_read``."""
    used = []
    for back in sorted(energy_on):
        energy = energy_on[back]
        if energy is None or not similar(start - timedelta(days=back), start):
            continue
        used.append((back, energy))
        if len(used) == rule.of_days:
            break
    text = rule.describe()
    if len(used) < rule.min_days:
        return Baseline(
            text,
            None,
            reason=(
                f"history too short: {len(used)} similar days with meter data in the "
                f"last {rule.search_days} days, {rule.min_days} needed"
            ),
        )
    highest = sorted(used, key=lambda u: u[1], reverse=True)[: rule.highest]
    days = tuple(sorted((start - timedelta(days=b)).date().isoformat() for b, _ in highest))
    return Baseline(text, sum(e for _, e in highest) / len(highest), days)


def days_to_read(start: datetime, rule: MeterBaselineRule) -> list[int]:
    """Days back (1..search_days) whose window the meter baseline may need: the
    similar ones only."""
    return [
        back
        for back in range(1, rule.search_days + 1)
        if similar(start - timedelta(days=back), start)
    ]


@dataclass(frozen=True, slots=True)
class MeteredResult:
    """What the meters say an event delivered (Wh), against both baselines."""

    event_id: str
    modification_number: int
    kind: str
    start: datetime
    end: datetime
    asked_wh: float
    metered_wh: float
    plan: Baseline
    meter: Baseline
    meters: int
    samples: int
    at: datetime

    @property
    def delivered_metered_wh(self) -> float:
        if self.kind == "export_w":
            return -self.metered_wh
        assert self.plan.energy_wh is not None
        return self.plan.energy_wh - self.metered_wh

    def as_dict(self) -> dict[str, object]:
        delivered = self.delivered_metered_wh
        return {
            "event_id": self.event_id,
            "modification_number": self.modification_number,
            "kind": self.kind,
            "window": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "asked_wh": round(self.asked_wh, 3),
            "metered_wh": round(self.metered_wh, 3),
            "delivered_metered_wh": round(delivered, 3),
            "shortfall_wh": round(max(self.asked_wh - delivered, 0.0), 3),
            "baseline": {
                "plan": self.plan.as_dict(self.metered_wh),
                "meter": self.meter.as_dict(self.metered_wh),
            },
            "meters": self.meters,
            "samples": self.samples,
            "computed_at": self.at.isoformat(),
        }


def metered_result(
    event: DemandResponseEvent,
    asked_wh: float,
    plan_baseline_wh: float,
    samples: Sequence[MeterSample],
    ends: Mapping[str, datetime],
    meter: Baseline,
    at: datetime,
    hold_s: float = 900.0,
) -> MeteredResult:
    """The metered M&V of ``event`` up to ``at`` (the window is cut at ``at`` while the
    event runs, so a running event's figures are what was delivered so far). The ask:
    ``value_w`` over the window for ``export_w`` and ``shed_w``; for an import cap,
    ``asked_wh`` as the ledger integrated it (baseline above the cap)."""
    end = min(event.end, at)
    metered = metered_energy_wh(samples, event.start, end, ends, hold_s)
    if event.kind != "import_limit_w":
        # The ask of a fixed power, over exactly the window (the dispatch ledger only
        # counts up to its last cycle).
        asked_wh = event.value_w * max((end - event.start).total_seconds(), 0.0) / 3600
    plan = Baseline(
        "the plan without DR events (DispatchPlan.baseline_w at each cycle, held until "
        "the next), over the same window",
        plan_baseline_wh,
    )
    return MeteredResult(
        event.id,
        event.modification_number,
        event.kind,
        event.start,
        end,
        asked_wh,
        metered,
        plan,
        meter,
        meters=len({s.meter for s in samples}),
        samples=sum(1 for s in samples if event.start <= s.at < end),
        at=at,
    )
