"""Bills on both back ends: a bill frozen at a session's end equals, to the cent, the
bill recomputed from the meter values the store kept; usage reads the same records."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from v2g.billing import PriceBand, Tariff, session_bill
from v2g.curves import StepCurve
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.store import SqlSessionStore, open_store
from v2g.store.billing import BillingSweep, BillingTerms
from v2g.usage import MeterSample, SessionSpan

T0 = datetime(2030, 7, 1, 21, 7, 13, 123456, tzinfo=UTC)
TARIFF = Tariff(
    "tou",
    "EUR",
    Decimal("0.3317"),
    bands=(PriceBand(Decimal("0.1913"), time(22), time(6)),),
    v2g_remuneration_per_kwh=Decimal("0.2291"),
    idle_fee_per_min=Decimal("0.07"),
    idle_grace_min=12.5,
    vat_percent=Decimal("21"),
)
# Odd powers and times: what a float or a timestamp could lose on the way to the store.
POWERS_W = [11_013.37, -6_999.91, 3_333.333333, 0.0, 7_401.5]


async def test_a_frozen_bill_equals_the_bill_of_the_stored_meter_values_to_the_cent(store_url):
    engine = await open_store(store_url)
    try:
        sessions = SqlSessionStore(engine)
        live = [
            MeterSample("s1", T0 + timedelta(seconds=1_237.77 * k), p)
            for k, p in enumerate(POWERS_W)
        ]
        end = T0 + timedelta(hours=3, seconds=0.5)
        await sessions.record(SessionStarted("E1", "s1", T0, "car", "-20"))
        for sample in live:
            await sessions.record(PowerMeasured("E1", "s1", sample.at, sample.power_w))
        await sessions.record(SessionEnded("E1", "s1", end, "done"))
        sweep = BillingSweep(engine, BillingTerms(), lambda: StepCurve(()), lambda: end)
        await sweep.tariffs.replace([TARIFF], end)
        assert await sweep.sweep() == 1 and await sweep.sweep() == 0
        frozen = await sweep.bills.bill("s1")
        assert frozen is not None
        bill, tariff = frozen
        expected = session_bill(TARIFF, SessionSpan("s1", "E1", T0, end), live, end)
        assert tariff == TARIFF
        assert (
            bill.net_due == expected.net_due and bill.charges_incl_vat == expected.charges_incl_vat
        )
        assert bill.v2g_remuneration == expected.v2g_remuneration
        spans, samples = await sessions.usage_records(T0 - timedelta(hours=1), end)
        assert [s.session_id for s in spans] == ["s1"] and len(samples) == len(POWERS_W)
    finally:
        await engine.dispose()
