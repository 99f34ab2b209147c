"""A payment provider that moves no money: it records what it was asked and settles
everything, or fails when told to (for tests of the ledger)."""

from __future__ import annotations

from decimal import Decimal

from v2g.billing.payments import PaymentResult


class FakePaymentProvider:
    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.settled: dict[str, tuple[str, Decimal, str]] = {}

    async def settle(
        self, driver_id: str, amount: Decimal, currency: str, reference: str
    ) -> PaymentResult:
        if self.failing:
            raise ConnectionError("payment service unreachable")
        # Idempotent by reference, as real providers are.
        self.settled.setdefault(reference, (driver_id, amount, currency))
        return PaymentResult(True, f"fake:{reference}")
