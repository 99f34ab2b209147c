"""What a driver pays: energy by time of use or by the day-ahead price, what a V2G
session earns per discharged kWh, and an idle fee once the car has stopped charging.

Money is ``Decimal`` (cents must add up); energy and power stay float (meters).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from v2g.curves import StepCurve

ALL_DAYS = frozenset(range(7))
#: Prices above these are refused as typing errors, not tariffs (per kWh, per minute).
MAX_PRICE_PER_KWH = Decimal(10)
MAX_IDLE_FEE_PER_MIN = Decimal(10)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,36}$")  # OCPI: Tariff.id is CiString(36)


class TariffError(ValueError):
    """A tariff that cannot be billed with; the message names the field."""


@dataclass(frozen=True, slots=True)
class PriceBand:
    """An energy price on ``weekdays`` (0 = Monday) from ``start`` to ``end`` local
    time (``end`` at or before ``start``: past midnight). Quarter hours only, as the
    market that sets such prices settles."""

    price_per_kwh: Decimal
    start: time
    end: time
    weekdays: frozenset[int] = ALL_DAYS

    def __post_init__(self) -> None:
        _price("band price_per_kwh", self.price_per_kwh, MAX_PRICE_PER_KWH)
        for name, moment in (("start", self.start), ("end", self.end)):
            if moment.minute % 15 or moment.second or moment.microsecond:
                raise TariffError(f"band {name}: on a quarter hour, got {moment.isoformat()}")
        if not self.weekdays or not self.weekdays <= ALL_DAYS:
            raise TariffError(
                f"band weekdays: within 0..6 (Monday 0), got {sorted(self.weekdays)}"
            )

    def covers(self, local: datetime) -> bool:
        clock = local.time()
        if self.start < self.end:
            return local.weekday() in self.weekdays and self.start <= clock < self.end
        # Past midnight: the band belongs to the day it starts on.
        if clock >= self.start:
            return local.weekday() in self.weekdays
        return clock < self.end and (local.weekday() - 1) % 7 in self.weekdays


@dataclass(frozen=True, slots=True)
class Tariff:
    tariff_id: str
    currency: str
    #: Energy price outside every band (or under ``day_ahead_markup_per_kwh``: unused).
    energy_price_per_kwh: Decimal
    bands: tuple[PriceBand, ...] = ()
    #: Set: a dynamic tariff, the day-ahead price plus this markup (never below 0).
    day_ahead_markup_per_kwh: Decimal | None = None
    v2g_remuneration_per_kwh: Decimal = Decimal(0)
    idle_fee_per_min: Decimal = Decimal(0)
    idle_grace_min: float = 0.0
    vat_percent: Decimal = Decimal(0)
    #: The zone of the bands' clock times.
    zone: str = "UTC"

    def __post_init__(self) -> None:
        if not _ID.match(self.tariff_id):
            raise TariffError(f"tariff_id: 1..36 of A-Z a-z 0-9 . _ -, got {self.tariff_id!r}")
        if not _CURRENCY.match(self.currency):
            raise TariffError(f"currency: an ISO 4217 code like EUR, got {self.currency!r}")
        _price("energy_price_per_kwh", self.energy_price_per_kwh, MAX_PRICE_PER_KWH)
        if self.day_ahead_markup_per_kwh is not None:
            _price("day_ahead_markup_per_kwh", self.day_ahead_markup_per_kwh, MAX_PRICE_PER_KWH)
        _price("v2g_remuneration_per_kwh", self.v2g_remuneration_per_kwh, MAX_PRICE_PER_KWH)
        _price("idle_fee_per_min", self.idle_fee_per_min, MAX_IDLE_FEE_PER_MIN)
        _price("vat_percent", self.vat_percent, Decimal(100))
        if not (math.isfinite(self.idle_grace_min) and 0 <= self.idle_grace_min <= 24 * 60):
            raise TariffError(f"idle_grace_min: within 0..1440, got {self.idle_grace_min}")
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise TariffError(f"zone: unknown time zone {self.zone!r}") from None

    @property
    def dynamic(self) -> bool:
        return self.day_ahead_markup_per_kwh is not None

    def energy_price(self, moment: datetime, day_ahead: StepCurve) -> Decimal:
        """The price per kWh charged at ``moment`` (``day_ahead`` in per kWh)."""
        if self.day_ahead_markup_per_kwh is not None:
            market = Decimal(repr(day_ahead.at(moment)))
            return max(Decimal(0), market + self.day_ahead_markup_per_kwh)
        local = moment.astimezone(ZoneInfo(self.zone))
        for band in self.bands:
            if band.covers(local):
                return band.price_per_kwh
        return self.energy_price_per_kwh

    def price_changes(
        self, start: datetime, end: datetime, day_ahead: StepCurve
    ) -> list[datetime]:
        """Every moment in ``start``..``end`` (exclusive) where the energy price may
        change: quarter hours for bands, the curve's own points for day-ahead prices."""
        if self.dynamic:
            return [at for at, _ in day_ahead.points if start < at < end]
        if not self.bands:
            return []
        quarter = timedelta(minutes=15)
        seconds = start.timestamp()
        first = datetime.fromtimestamp(seconds - seconds % 900, start.tzinfo) + quarter
        changes = []
        while first < end:
            changes.append(first)
            first += quarter
        return changes


def _price(name: str, value: Decimal, highest: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= highest:
        raise TariffError(f"{name}: within 0..{highest}, got {value}")
