"""Settling a bill: a ``PaymentProvider`` seam (a payment service's API in a real
site; ``v2g.testing.payments.FakePaymentProvider`` in tests, where no money moves)
and the ledger entries that say what each driver owes or is owed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from v2g.billing.bill import Bill

CHARGE, PAYOUT = "charge", "payout"


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """What the provider did: ``settled`` (money moved) or not, with its reference or
    the reason it did not."""

    settled: bool
    reference: str


class PaymentProvider(Protocol):
    """Takes money from a driver (a positive amount) or pays it out (V2G earnings
    beyond the charges). ``reference`` makes a retry idempotent at the provider."""

    async def settle(
        self, driver_id: str, amount: Decimal, currency: str, reference: str
    ) -> PaymentResult: ...


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One session's settlement for one driver: ``amount`` > 0 the driver pays,
    < 0 the driver is paid."""

    driver_id: str
    session_id: str
    kind: str
    amount: Decimal
    currency: str


def ledger_entry(bill: Bill, driver_id: str) -> LedgerEntry:
    return LedgerEntry(
        driver_id,
        bill.session_id,
        CHARGE if bill.net_due >= 0 else PAYOUT,
        bill.net_due,
        bill.currency,
    )
