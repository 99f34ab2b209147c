"""Tariffs and charge detail records in the shapes of OCPI 2.2.1 (the roaming
standard's Tariff and CDR modules), so a roaming partner or a billing system reads
them as they read any operator's.

OCPI 2.2.1 has no words for three things a V2G tariff has: a day-ahead price, V2G
remuneration and an idle grace period. They go in ``tariff_alt_text`` and the CDR's
``remark``; discharged energy is the ``ENERGY_EXPORT`` dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from v2g.billing.bill import Bill, BillPeriod
from v2g.billing.tariff import PriceBand, Tariff

_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(frozen=True, slots=True)
class Operator:
    """Who issues the records (OCPI party) and where the chargers are."""

    country_code: str = "NL"
    party_id: str = "V2G"
    location_id: str = "site"
    address: str = "unknown"
    city: str = "unknown"
    country: str = "NLD"
    latitude: str = "0.000000"
    longitude: str = "0.000000"


@dataclass(frozen=True, slots=True)
class DriverToken:
    """The token a session was authorized with (OCPI CdrToken)."""

    uid: str
    token_type: str = "OTHER"  # RFID, APP_USER, AD_HOC_USER, OTHER
    contract_id: str = ""


def ocpi_tariff(tariff: Tariff, operator: Operator, last_updated: datetime) -> dict[str, Any]:
    vat = float(tariff.vat_percent)
    elements = [_band_element(band, vat) for band in tariff.bands]
    flat: list[dict[str, Any]] = [_component("ENERGY", tariff.energy_price_per_kwh, vat, 1)]
    if tariff.idle_fee_per_min:
        flat.append(_component("PARKING_TIME", tariff.idle_fee_per_min * 60, vat, 60))
    elements.append({"price_components": flat})
    return {
        "country_code": operator.country_code,
        "party_id": operator.party_id,
        "id": tariff.tariff_id,
        "currency": tariff.currency,
        "type": "REGULAR",
        "tariff_alt_text": [{"language": "en", "text": _alt_text(tariff)}],
        "elements": elements,
        "last_updated": _time(last_updated),
    }


def ocpi_cdr(
    bill: Bill,
    tariff: Tariff,
    operator: Operator,
    token: DriverToken,
    last_updated: datetime,
) -> dict[str, Any]:
    active_h = sum(p.active_s for p in bill.periods) / 3600
    idle_h = sum(p.idle_s for p in bill.periods) / 3600
    charges_excl = bill.energy_cost + bill.idle_cost
    cdr: dict[str, Any] = {
        "country_code": operator.country_code,
        "party_id": operator.party_id,
        "id": bill.session_id[:39],
        "start_date_time": _time(bill.start),
        "end_date_time": _time(bill.end),
        "session_id": bill.session_id[:36],
        "cdr_token": {
            "country_code": operator.country_code,
            "party_id": operator.party_id,
            "uid": token.uid[:36],
            "type": token.token_type,
            "contract_id": (token.contract_id or token.uid)[:36],
        },
        "auth_method": "WHITELIST",
        "cdr_location": _location(bill, operator),
        "currency": bill.currency,
        "tariffs": [ocpi_tariff(tariff, operator, last_updated)],
        "charging_periods": [_period(p, tariff.tariff_id) for p in bill.periods],
        "total_cost": _money(charges_excl, bill.charges_incl_vat),
        "total_energy": round(bill.charged_wh / 1000, 3),
        "total_energy_cost": _money(bill.energy_cost, None),
        "total_time": round(active_h + idle_h, 6),
        "total_parking_time": round(idle_h, 6),
        "total_parking_cost": _money(bill.idle_cost, None),
        "last_updated": _time(last_updated),
    }
    if bill.v2g_remuneration:
        cdr["remark"] = (
            f"V2G: {bill.discharged_wh / 1000:.3f} kWh discharged, remunerated "
            f"{bill.v2g_remuneration} {bill.currency}; net due {bill.net_due} {bill.currency}"
        )[:255]
    return cdr


def _band_element(band: PriceBand, vat: float) -> dict[str, Any]:
    restrictions: dict[str, Any] = {
        "start_time": band.start.strftime("%H:%M"),
        "end_time": band.end.strftime("%H:%M"),
    }
    if len(band.weekdays) < 7:
        restrictions["day_of_week"] = [_DAYS[d] for d in sorted(band.weekdays)]
    return {
        "price_components": [_component("ENERGY", band.price_per_kwh, vat, 1)],
        "restrictions": restrictions,
    }


def _component(kind: str, price: Decimal, vat: float, step_size: int) -> dict[str, Any]:
    return {"type": kind, "price": float(price), "vat": vat, "step_size": step_size}


def _alt_text(tariff: Tariff) -> str:
    parts = []
    if tariff.day_ahead_markup_per_kwh is not None:
        parts.append(
            f"energy at the day-ahead price plus {tariff.day_ahead_markup_per_kwh} "
            f"{tariff.currency}/kWh"
        )
    if tariff.v2g_remuneration_per_kwh:
        parts.append(f"V2G pays {tariff.v2g_remuneration_per_kwh} {tariff.currency}/kWh")
    if tariff.idle_fee_per_min:
        parts.append(
            f"idle fee {tariff.idle_fee_per_min} {tariff.currency}/min after charging, "
            f"{tariff.idle_grace_min:g} min free"
        )
    return "; ".join(parts) or "energy per kWh"


def _location(bill: Bill, operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.location_id,
        "address": operator.address,
        "city": operator.city,
        "country": operator.country,
        "coordinates": {"latitude": operator.latitude, "longitude": operator.longitude},
        "evse_uid": bill.evse_id[:36],
        "evse_id": bill.evse_id[:48],
        "connector_id": "1",
        "connector_standard": "IEC_62196_T2_COMBO",
        "connector_format": "CABLE",
        "connector_power_type": "DC",
    }


def _period(period: BillPeriod, tariff_id: str) -> dict[str, Any]:
    dimensions = [{"type": "ENERGY", "volume": round(period.charged_wh / 1000, 6)}]
    if period.discharged_wh:
        dimensions.append(
            {"type": "ENERGY_EXPORT", "volume": round(period.discharged_wh / 1000, 6)}
        )
    if period.active_s:
        dimensions.append({"type": "TIME", "volume": round(period.active_s / 3600, 6)})
    if period.idle_s:
        dimensions.append({"type": "PARKING_TIME", "volume": round(period.idle_s / 3600, 6)})
    return {
        "start_date_time": _time(period.start),
        "dimensions": dimensions,
        "tariff_id": tariff_id,
    }


def _money(excl_vat: Decimal, incl_vat: Decimal | None) -> dict[str, Any]:
    money: dict[str, Any] = {"excl_vat": float(excl_vat)}
    if incl_vat is not None:
        money["incl_vat"] = float(incl_vat)
    return money


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
