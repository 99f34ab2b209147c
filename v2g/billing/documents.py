"""Tariffs and bills as plain JSON-able documents: one shape for the site TOML
(``[[tariff]]``), the API (``PUT /api/v1/tariffs``) and the store.

Money goes out as strings ("0.30"): a float would lose cents on the way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from v2g.billing.bill import Bill, BillPeriod
from v2g.billing.tariff import PriceBand, Tariff, TariffError

TARIFF_KEYS = frozenset(
    {
        "id",
        "currency",
        "energy_price_per_kwh",
        "bands",
        "day_ahead_markup_per_kwh",
        "v2g_remuneration_per_kwh",
        "idle_fee_per_min",
        "idle_grace_min",
        "vat_percent",
        "zone",
    }
)
_BAND_KEYS = {"price_per_kwh", "start", "end", "weekdays"}


def tariff_of(data: Mapping[str, Any], where: str = "tariff") -> Tariff:
    """A tariff from its document; TariffError names the field (``where.key``)."""
    unknown = sorted(set(data) - TARIFF_KEYS)
    if unknown:
        raise TariffError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("id", "currency", "energy_price_per_kwh"):
        if key not in data:
            raise TariffError(f"{where}.{key}: missing")
    bands = data.get("bands", [])
    if not isinstance(bands, list):
        raise TariffError(f"{where}.bands: must be a list")
    markup = data.get("day_ahead_markup_per_kwh")
    try:
        return Tariff(
            _text(data["id"], f"{where}.id"),
            _text(data["currency"], f"{where}.currency"),
            _money(data["energy_price_per_kwh"], f"{where}.energy_price_per_kwh"),
            tuple(_band(b, f"{where}.bands[{k}]") for k, b in enumerate(bands)),
            None if markup is None else _money(markup, f"{where}.day_ahead_markup_per_kwh"),
            _money(data.get("v2g_remuneration_per_kwh", 0), f"{where}.v2g_remuneration_per_kwh"),
            _money(data.get("idle_fee_per_min", 0), f"{where}.idle_fee_per_min"),
            _number(data.get("idle_grace_min", 0), f"{where}.idle_grace_min"),
            _money(data.get("vat_percent", 0), f"{where}.vat_percent"),
            _text(data.get("zone", "UTC"), f"{where}.zone"),
        )
    except TariffError as error:
        message = str(error)
        raise TariffError(message if message.startswith(where) else f"{where}.{message}") from None


def tariff_document(tariff: Tariff) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": tariff.tariff_id,
        "currency": tariff.currency,
        "energy_price_per_kwh": str(tariff.energy_price_per_kwh),
        "bands": [
            {
                "price_per_kwh": str(b.price_per_kwh),
                "start": b.start.strftime("%H:%M"),
                "end": b.end.strftime("%H:%M"),
                "weekdays": sorted(b.weekdays),
            }
            for b in tariff.bands
        ],
        "v2g_remuneration_per_kwh": str(tariff.v2g_remuneration_per_kwh),
        "idle_fee_per_min": str(tariff.idle_fee_per_min),
        "idle_grace_min": tariff.idle_grace_min,
        "vat_percent": str(tariff.vat_percent),
        "zone": tariff.zone,
    }
    if tariff.day_ahead_markup_per_kwh is not None:
        document["day_ahead_markup_per_kwh"] = str(tariff.day_ahead_markup_per_kwh)
    return document


def bill_document(bill: Bill) -> dict[str, Any]:
    return {
        "session_id": bill.session_id,
        "evse_id": bill.evse_id,
        "tariff_id": bill.tariff_id,
        "currency": bill.currency,
        "start": bill.start.isoformat(),
        "end": bill.end.isoformat(),
        "charged_wh": bill.charged_wh,
        "discharged_wh": bill.discharged_wh,
        "billed_idle_s": bill.billed_idle_s,
        "energy_cost": str(bill.energy_cost),
        "idle_cost": str(bill.idle_cost),
        "vat": str(bill.vat),
        "charges_incl_vat": str(bill.charges_incl_vat),
        "v2g_remuneration": str(bill.v2g_remuneration),
        "net_due": str(bill.net_due),
        "periods": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "price_per_kwh": str(p.price_per_kwh),
                "charged_wh": p.charged_wh,
                "discharged_wh": p.discharged_wh,
                "active_s": p.active_s,
                "idle_s": p.idle_s,
            }
            for p in bill.periods
        ],
    }


def bill_of(data: Mapping[str, Any]) -> Bill:
    """The bill a document written by ``bill_document`` holds (the store's own data)."""
    return Bill(
        data["session_id"],
        data["evse_id"],
        data["tariff_id"],
        data["currency"],
        datetime.fromisoformat(data["start"]),
        datetime.fromisoformat(data["end"]),
        tuple(
            BillPeriod(
                datetime.fromisoformat(p["start"]),
                datetime.fromisoformat(p["end"]),
                Decimal(p["price_per_kwh"]),
                p["charged_wh"],
                p["discharged_wh"],
                p["active_s"],
                p["idle_s"],
            )
            for p in data["periods"]
        ),
        data["charged_wh"],
        data["discharged_wh"],
        data["billed_idle_s"],
        *(
            Decimal(data[k])
            for k in (
                "energy_cost",
                "idle_cost",
                "vat",
                "charges_incl_vat",
                "v2g_remuneration",
                "net_due",
            )
        ),
    )


def _band(data: object, where: str) -> PriceBand:
    if not isinstance(data, Mapping):
        raise TariffError(f"{where}: must be a table")
    unknown = sorted(set(data) - _BAND_KEYS)
    if unknown:
        raise TariffError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for key in ("price_per_kwh", "start", "end"):
        if key not in data:
            raise TariffError(f"{where}.{key}: missing")
    weekdays = data.get("weekdays", list(range(7)))
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in weekdays
    ):
        raise TariffError(f"{where}.weekdays: a list of 0..6 (Monday 0)")
    try:
        return PriceBand(
            _money(data["price_per_kwh"], f"{where}.price_per_kwh"),
            _clock(data["start"], f"{where}.start"),
            _clock(data["end"], f"{where}.end"),
            frozenset(weekdays),
        )
    except TariffError as error:
        message = str(error)
        raise TariffError(
            message if message.startswith(where) else f"{where}: {message}"
        ) from None


def _money(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TariffError(f"{where}: a number or a decimal string, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise TariffError(f"{where}: must be finite, got {value}")
    try:
        # str() first: Decimal(0.1) would carry the float's binary error into cents.
        return Decimal(str(value))
    except InvalidOperation:
        raise TariffError(f"{where}: not a number: {str(value)[:40]!r}") from None


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TariffError(f"{where}: must be a number, got {value!r}")
    return float(value)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise TariffError(f"{where}: must be a string, got {value!r}")
    return value


def _clock(value: object, where: str) -> time:
    if not isinstance(value, str):
        raise TariffError(f'{where}: a time of day like "07:00", got {value!r}')
    if value == "24:00":
        return time(0)
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise TariffError(f'{where}: a time of day like "07:00", got {value[:20]!r}') from None
