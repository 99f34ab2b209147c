"""A session's bill from its meter values: energy cost per price period, the V2G
remuneration for discharged energy, an idle fee for the time plugged in after the
car stopped drawing power (past the grace period), and VAT on the charges.

The power between two meter values is the earlier one (as in ``v2g.usage``); the
same meter values give the same bill to the cent, live or recomputed from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from v2g.billing.tariff import Tariff
from v2g.curves import StepCurve
from v2g.usage import IDLE_BELOW_W, MeterSample, SessionSpan, power_steps

CENT = Decimal("0.01")
_WH_PER_KWH = Decimal(1000)


@dataclass(frozen=True, slots=True)
class BillPeriod:
    """A stretch at one energy price: OCPI's charging period."""

    start: datetime
    end: datetime
    price_per_kwh: Decimal
    charged_wh: float
    discharged_wh: float
    #: Time drawing or giving power (|power| >= the idle threshold).
    active_s: float
    #: Time plugged in but idle.
    idle_s: float


@dataclass(frozen=True, slots=True)
class Bill:
    session_id: str
    evse_id: str
    tariff_id: str
    currency: str
    start: datetime
    end: datetime
    periods: tuple[BillPeriod, ...]
    charged_wh: float
    discharged_wh: float
    #: Idle time after the last energy flow, beyond the grace period: what the fee is on.
    billed_idle_s: float
    energy_cost: Decimal
    idle_cost: Decimal
    vat: Decimal
    #: Energy and idle fee with VAT.
    charges_incl_vat: Decimal
    v2g_remuneration: Decimal
    #: What the driver owes (negative: what the driver is owed).
    net_due: Decimal


def session_bill(
    tariff: Tariff,
    span: SessionSpan,
    samples: Sequence[MeterSample],
    end: datetime,
    day_ahead: StepCurve | None = None,
) -> Bill:
    """``span``'s bill up to ``end`` (its end, or now for a running session)."""
    curve = day_ahead or StepCurve(())
    # Two values for one instant (a meter never sends them; a replay might): ordered
    # by value too, so the bill never depends on the order they arrived in.
    mine = (s for s in samples if s.session_id == span.session_id)
    ordered = sorted(mine, key=lambda s: (s.at, s.power_w))
    periods = _periods(tariff, span, ordered, end, curve)
    energy_cost = sum(
        (Decimal(repr(p.charged_wh)) / _WH_PER_KWH * p.price_per_kwh for p in periods), Decimal(0)
    )
    discharged_wh = sum(p.discharged_wh for p in periods)
    remuneration = Decimal(repr(discharged_wh)) / _WH_PER_KWH * tariff.v2g_remuneration_per_kwh
    idle_s = _billed_idle_s(tariff, span, ordered, end)
    idle_cost = Decimal(repr(idle_s)) / 60 * tariff.idle_fee_per_min
    charges = _cents(energy_cost) + _cents(idle_cost)
    vat = _cents(charges * tariff.vat_percent / 100)
    return Bill(
        span.session_id,
        span.evse_id,
        tariff.tariff_id,
        tariff.currency,
        span.started_at,
        end,
        periods,
        sum(p.charged_wh for p in periods),
        discharged_wh,
        idle_s,
        _cents(energy_cost),
        _cents(idle_cost),
        vat,
        charges + vat,
        _cents(remuneration),
        charges + vat - _cents(remuneration),
    )


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _periods(
    tariff: Tariff, span: SessionSpan, samples: list[MeterSample], end: datetime, curve: StepCurve
) -> tuple[BillPeriod, ...]:
    """Power steps cut where the price may change, merged while the price stays."""
    periods: list[BillPeriod] = []
    for a, b, power_w in power_steps(span.started_at, samples, span.started_at, end):
        cuts = [a, *tariff.price_changes(a, b, curve), b]
        for start, stop in pairwise(cuts):
            piece = _piece(start, stop, power_w, tariff.energy_price(start, curve))
            if periods and periods[-1].price_per_kwh == piece.price_per_kwh:
                piece = _joined(periods.pop(), piece)
            periods.append(piece)
    return tuple(periods)


def _piece(start: datetime, stop: datetime, power_w: float, price: Decimal) -> BillPeriod:
    seconds = (stop - start).total_seconds()
    energy_wh = power_w * seconds / 3600.0
    idle = abs(power_w) < IDLE_BELOW_W
    return BillPeriod(
        start,
        stop,
        price,
        max(energy_wh, 0.0),
        max(-energy_wh, 0.0),
        0.0 if idle else seconds,
        seconds if idle else 0.0,
    )


def _joined(first: BillPeriod, second: BillPeriod) -> BillPeriod:
    return BillPeriod(
        first.start,
        second.end,
        first.price_per_kwh,
        first.charged_wh + second.charged_wh,
        first.discharged_wh + second.discharged_wh,
        first.active_s + second.active_s,
        first.idle_s + second.idle_s,
    )


def _billed_idle_s(
    tariff: Tariff, span: SessionSpan, samples: list[MeterSample], end: datetime
) -> float:
    """Plugged-in time after the last sample with energy flowing, past the grace. Idle
    stretches between flows are the planner's choice (waiting for cheap hours or for
    an event), never the driver's: no fee for them."""
    flowing = [s for s in samples if abs(s.power_w) >= IDLE_BELOW_W]
    if not flowing:
        return 0.0
    last_flow = flowing[-1]
    after = samples[samples.index(last_flow) + 1 :]
    stopped_at = after[0].at if after else end
    tail_s = max(0.0, (end - stopped_at).total_seconds())
    return max(0.0, tail_s - tariff.idle_grace_min * 60.0)
