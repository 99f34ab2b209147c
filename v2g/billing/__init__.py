"""Tariffs, bills and charge detail records: pure (meter values and a tariff in, a
bill out; OCPI 2.2.1 shapes for roaming partners)."""

from v2g.billing.bill import Bill, BillPeriod, session_bill
from v2g.billing.ocpi import DriverToken, Operator, ocpi_cdr, ocpi_tariff
from v2g.billing.tariff import PriceBand, Tariff, TariffError

__all__ = [
    "Bill",
    "BillPeriod",
    "DriverToken",
    "Operator",
    "PriceBand",
    "Tariff",
    "TariffError",
    "ocpi_cdr",
    "ocpi_tariff",
    "session_bill",
]
