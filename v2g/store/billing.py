"""Tariffs in force and the frozen bills of ended sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.billing import Bill, Operator, Tariff, session_bill
from v2g.billing.documents import bill_document, bill_of, tariff_document, tariff_of
from v2g.billing.payments import LedgerEntry, PaymentProvider, PaymentResult, ledger_entry
from v2g.curves import StepCurve
from v2g.store.drivers import SqlDriverStore
from v2g.store.schema import bills, ledger, sessions, tariffs
from v2g.store.sessions import SqlSessionStore
from v2g.store.times import aware
from v2g.usage import SessionSpan

logger = logging.getLogger(__name__)


class SqlTariffStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def tariffs(self) -> list[Tariff]:
        """The tariffs in force, the site's default first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(tariffs.c.body).order_by(tariffs.c.position))
            return [tariff_of(body) for (body,) in rows]

    async def replace(self, given: Sequence[Tariff], at: datetime) -> None:
        """Puts ``given`` in force instead of every tariff before (one transaction)."""
        async with self._engine.begin() as connection:
            await connection.execute(delete(tariffs))
            for position, tariff in enumerate(given):
                await connection.execute(
                    tariffs.insert().values(
                        tariff_id=tariff.tariff_id,
                        position=position,
                        body=tariff_document(tariff),
                        updated_at=at,
                    )
                )

    async def seed(self, given: Sequence[Tariff], at: datetime) -> bool:
        """Puts ``given`` in force if none is stored yet (the site file's tariffs at the
        first start; later changes come through the API and survive restarts)."""
        if not given or await self.tariffs():
            return False
        await self.replace(given, at)
        return True


class SqlBillStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def unbilled(self) -> list[SessionSpan]:
        """Ended sessions without a frozen bill yet."""
        query = (
            select(sessions)
            .outerjoin(bills, bills.c.session_id == sessions.c.session_id)
            .where(sessions.c.ended_at.is_not(None), bills.c.session_id.is_(None))
        )
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [
                SessionSpan(
                    r["session_id"], r["evse_id"], aware(r["started_at"]), aware(r["ended_at"])
                )
                for r in rows.mappings()
            ]

    async def freeze(
        self,
        bill: Bill,
        tariff: Tariff,
        at: datetime,
        settled: tuple[LedgerEntry, PaymentResult] | None = None,
    ) -> None:
        """Keeps ``bill`` with the tariff it was made with (a CDR names its tariff even
        after the tariff changed), and its driver's ledger entry, in one transaction."""
        body = {"bill": bill_document(bill), "tariff": tariff_document(tariff)}
        async with self._engine.begin() as connection:
            await connection.execute(
                bills.insert().values(
                    session_id=bill.session_id,
                    ended_at=bill.end.astimezone(UTC),
                    body=body,
                    billed_at=at,
                )
            )
            if settled is not None:
                entry, result = settled
                await connection.execute(
                    ledger.insert().values(
                        session_id=entry.session_id,
                        driver_id=entry.driver_id,
                        kind=entry.kind,
                        amount=str(entry.amount),
                        currency=entry.currency,
                        settled=result.settled,
                        reference=result.reference[:256],
                        at=at,
                    )
                )

    async def of_driver(self, driver_id: str) -> list[tuple[Bill, dict[str, Any]]]:
        """A driver's frozen bills with their ledger entries, newest first."""
        query = (
            select(bills.c.body, ledger)
            .join(ledger, ledger.c.session_id == bills.c.session_id)
            .where(ledger.c.driver_id == driver_id)
            .order_by(bills.c.ended_at.desc())
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings()
            return [
                (
                    bill_of(r["body"]["bill"]),
                    {
                        "kind": r["kind"],
                        "amount": r["amount"],
                        "currency": r["currency"],
                        "settled": r["settled"],
                        "reference": r["reference"],
                    },
                )
                for r in rows
            ]

    async def bill(self, session_id: str) -> tuple[Bill, Tariff] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(bills.c.body).where(bills.c.session_id == session_id)
                )
            ).first()
        return None if row is None else _frozen(row[0])

    async def ended_between(self, start: datetime, end: datetime) -> list[tuple[Bill, Tariff]]:
        """Frozen bills of the sessions that ended after ``start``, up to ``end``."""
        query = (
            select(bills.c.body)
            .where(
                bills.c.ended_at > start.astimezone(UTC), bills.c.ended_at <= end.astimezone(UTC)
            )
            .order_by(bills.c.ended_at)
        )
        async with self._engine.connect() as connection:
            return [_frozen(body) for (body,) in await connection.execute(query)]


class NoPayments:
    """No payment provider configured: every entry stays owed in the ledger."""

    async def settle(
        self, driver_id: str, amount: Decimal, currency: str, reference: str
    ) -> PaymentResult:
        return PaymentResult(False, "no payment provider configured")


def _frozen(body: Mapping[str, Any]) -> tuple[Bill, Tariff]:
    return bill_of(body["bill"]), tariff_of(body["tariff"])


@dataclass(frozen=True, slots=True)
class BillingTerms:
    """Which tariff each charger bills with (else the site's default, the first in
    force), and who issues the CDRs."""

    charger_tariffs: Mapping[str, str] = field(default_factory=dict)
    operator: Operator = field(default_factory=Operator)


class BillingSweep:
    """Freezes the bill of every ended session with the tariff in force for its
    charger and the day-ahead prices then known. Idempotent: run it on a timer and
    before any read of CDRs."""

    def __init__(
        self,
        engine: AsyncEngine,
        terms: BillingTerms,
        prices: Callable[[], StepCurve],
        now: Callable[[], datetime],
        payments: PaymentProvider | None = None,
    ) -> None:
        self.tariffs = SqlTariffStore(engine)
        self.bills = SqlBillStore(engine)
        self.terms = terms
        self.payments = payments or NoPayments()
        self._sessions = SqlSessionStore(engine)
        self._drivers = SqlDriverStore(engine)
        self._prices = prices
        self._now = now
        self._lock = asyncio.Lock()

    def tariff_for(self, evse_id: str, in_force: Sequence[Tariff]) -> Tariff | None:
        wanted = self.terms.charger_tariffs.get(evse_id)
        by_id = {t.tariff_id: t for t in in_force}
        if wanted in by_id:
            return by_id[wanted]
        return in_force[0] if in_force else None

    async def running_bill(self, span: SessionSpan) -> tuple[Bill, Tariff] | None:
        """What the session costs so far (or its final bill, if frozen)."""
        frozen = await self.bills.bill(span.session_id)
        if frozen is not None:
            return frozen
        tariff = self.tariff_for(span.evse_id, await self.tariffs.tariffs())
        if tariff is None:
            return None
        samples = await self._sessions.samples(span.session_id)
        end = span.ended_at or self._now()
        return session_bill(tariff, span, samples, end, self._prices()), tariff

    async def sweep(self) -> int:
        """Bills every ended, unbilled session; returns how many. Nothing is billed
        while no tariff is in force."""
        async with self._lock:
            in_force = await self.tariffs.tariffs()
            if not in_force:
                return 0
            done = 0
            for span in await self.bills.unbilled():
                tariff = self.tariff_for(span.evse_id, in_force)
                assert tariff is not None and span.ended_at is not None
                samples = await self._sessions.samples(span.session_id)
                bill = session_bill(tariff, span, samples, span.ended_at, self._prices())
                await self.bills.freeze(bill, tariff, self._now(), await self._settle(bill, span))
                done += 1
            return done

    async def _settle(
        self, bill: Bill, span: SessionSpan
    ) -> tuple[LedgerEntry, PaymentResult] | None:
        """The driver's ledger entry, settled through the provider (the session id is
        the idempotency reference: a sweep that retries never charges twice)."""
        driver_id = await self._drivers.driver_of(span)
        if driver_id is None:
            return None
        entry = ledger_entry(bill, driver_id)
        try:
            result = await self.payments.settle(
                driver_id, entry.amount, entry.currency, f"session:{bill.session_id}"
            )
        except Exception as error:  # a provider failing must not stop billing
            logger.warning("payment for session %s failed: %s", bill.session_id, error)
            result = PaymentResult(False, f"provider failed: {error}")
        return entry, result

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:  # the store failed: the next sweep tries again
                logger.exception("billing sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
