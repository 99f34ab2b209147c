"""A session's bill from its meter values: time-of-use and day-ahead energy prices,
V2G remuneration, the idle fee after the grace period, VAT, to the cent."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties import examples
from v2g.billing import PriceBand, Tariff, TariffError, session_bill
from v2g.curves import StepCurve
from v2g.usage import MeterSample, SessionSpan

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # a Monday, 06:00 UTC
D = Decimal


def flat(**changes) -> Tariff:
    return Tariff("flat", "EUR", D("0.30"), **changes)


def steady(power_w: float, hours: float, *, start: datetime = T0):
    span = SessionSpan("s1", "evse-1", start, start + timedelta(hours=hours))
    return span, [MeterSample("s1", start, power_w)]


def test_a_flat_tariff_charges_energy_and_vat_to_the_cent():
    span, samples = steady(11_000, 2)
    bill = session_bill(flat(vat_percent=D(21)), span, samples, span.ended_at)
    assert bill.charged_wh == pytest.approx(22_000)
    assert bill.energy_cost == D("6.60")
    assert bill.vat == D("1.39") and bill.charges_incl_vat == D("7.99")
    assert bill.net_due == D("7.99")


def test_time_of_use_bands_price_each_part_of_the_session():
    night = PriceBand(D("0.20"), time(0), time(7))
    span, samples = steady(10_000, 2)  # 06:00 to 08:00 UTC
    bill = session_bill(flat(bands=(night,)), span, samples, span.ended_at)
    assert [p.price_per_kwh for p in bill.periods] == [D("0.20"), D("0.30")]
    assert bill.energy_cost == D("2.00") + D("3.00")


def test_a_band_past_midnight_belongs_to_the_day_it_starts_on():
    late = PriceBand(D("0.10"), time(22), time(6), weekdays=frozenset({6}))  # Sunday night
    tariff = flat(bands=(late,))
    monday_early = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    tuesday_early = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    assert tariff.energy_price(monday_early, StepCurve(())) == D("0.10")
    assert tariff.energy_price(tuesday_early, StepCurve(())) == D("0.30")


def test_bands_follow_the_tariffs_zone():
    evening = PriceBand(D("0.50"), time(18), time(21))
    tariff = flat(bands=(evening,), zone="Europe/Amsterdam")  # UTC+2 in June
    assert tariff.energy_price(datetime(2026, 6, 1, 16, 30, tzinfo=UTC), StepCurve(())) == D(
        "0.50"
    )
    assert tariff.energy_price(datetime(2026, 6, 1, 19, 30, tzinfo=UTC), StepCurve(())) == D(
        "0.30"
    )


def test_a_dynamic_tariff_is_the_day_ahead_price_plus_markup_never_below_zero():
    curve = StepCurve.of([(T0, 0.08), (T0 + timedelta(hours=1), -0.05)])
    span, samples = steady(10_000, 2)
    bill = session_bill(
        flat(day_ahead_markup_per_kwh=D("0.02")), span, samples, span.ended_at, curve
    )
    assert [p.price_per_kwh for p in bill.periods] == [D("0.10"), D("0")]
    assert bill.energy_cost == D("1.00")


def test_discharged_energy_is_remunerated_and_may_leave_the_driver_owed():
    span = SessionSpan("s1", "evse-1", T0, T0 + timedelta(hours=3))
    samples = [
        MeterSample("s1", T0, 10_000),
        MeterSample("s1", T0 + timedelta(hours=1), -10_000),
    ]
    bill = session_bill(flat(v2g_remuneration_per_kwh=D("0.50")), span, samples, span.ended_at)
    assert bill.discharged_wh == pytest.approx(20_000)
    assert bill.energy_cost == D("3.00") and bill.v2g_remuneration == D("10.00")
    assert bill.net_due == D("-7.00")


def test_the_idle_fee_starts_after_the_last_energy_flow_and_the_grace():
    span = SessionSpan("s1", "evse-1", T0, T0 + timedelta(hours=4))
    samples = [
        MeterSample("s1", T0, 0.0),  # waiting for a cheap hour: the planner's choice
        MeterSample("s1", T0 + timedelta(hours=1), 10_000),
        MeterSample("s1", T0 + timedelta(hours=3), 0.0),  # full: idle from here
    ]
    tariff = flat(idle_fee_per_min=D("0.10"), idle_grace_min=15)
    bill = session_bill(tariff, span, samples, span.ended_at)
    assert bill.billed_idle_s == 45 * 60
    assert bill.idle_cost == D("4.50")


def test_a_running_session_is_billed_up_to_now():
    span = SessionSpan("s1", "evse-1", T0, None)
    samples = [MeterSample("s1", T0, 7_200)]
    bill = session_bill(flat(), span, samples, T0 + timedelta(minutes=30))
    assert bill.charged_wh == pytest.approx(3_600) and bill.energy_cost == D("1.08")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"energy_price_per_kwh": D("-0.10")}, "energy_price_per_kwh"),
        ({"energy_price_per_kwh": D("11")}, "energy_price_per_kwh"),
        ({"energy_price_per_kwh": D("NaN")}, "energy_price_per_kwh"),
        ({"currency": "euro"}, "currency"),
        ({"tariff_id": "x" * 37}, "tariff_id"),
        ({"tariff_id": "a b"}, "tariff_id"),
        ({"idle_fee_per_min": D("50")}, "idle_fee_per_min"),
        ({"idle_grace_min": -1.0}, "idle_grace_min"),
        ({"vat_percent": D("120")}, "vat_percent"),
        ({"zone": "Mars/Olympus"}, "zone"),
        ({"v2g_remuneration_per_kwh": D("-1")}, "v2g_remuneration_per_kwh"),
    ],
)
def test_an_absurd_tariff_is_refused_with_the_field_named(changes, field):
    base = {"tariff_id": "t", "currency": "EUR", "energy_price_per_kwh": D("0.30")}
    with pytest.raises(TariffError, match=field):
        Tariff(**(base | changes))


@pytest.mark.parametrize(
    ("band", "field"),
    [
        ({"start": time(7, 10)}, "start"),
        ({"weekdays": frozenset({7})}, "weekdays"),
        ({"weekdays": frozenset()}, "weekdays"),
        ({"price_per_kwh": D("12")}, "price"),
    ],
)
def test_a_bad_band_is_refused_with_the_field_named(band, field):
    base = {"price_per_kwh": D("0.2"), "start": time(0), "end": time(7)}
    with pytest.raises(TariffError, match=field):
        PriceBand(**(base | band))


_POWERS = st.floats(-22_000, 22_000, allow_nan=False)


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6 * 3600), _POWERS), min_size=1, max_size=12),
    st.integers(1, 8 * 3600),
    st.randoms(use_true_random=False),
)
def test_a_bill_is_the_same_to_the_cent_however_its_meter_values_arrive(points, length_s, rnd):
    span = SessionSpan("s1", "evse-1", T0, T0 + timedelta(seconds=length_s))
    samples = [MeterSample("s1", T0 + timedelta(seconds=s), p) for s, p in points]
    tariff = flat(
        bands=(PriceBand(D("0.12"), time(7), time(9)),),
        v2g_remuneration_per_kwh=D("0.2"),
        idle_fee_per_min=D("0.05"),
        vat_percent=D("21"),
    )
    bill = session_bill(tariff, span, samples, span.ended_at)
    shuffled = list(samples)
    random.Random(rnd.random()).shuffle(shuffled)
    again = session_bill(tariff, span, shuffled, span.ended_at)
    assert again.net_due == bill.net_due and again.periods == bill.periods
    assert D("0.12") * D(repr(bill.charged_wh)) / 1000 - D("0.01") <= bill.energy_cost
    assert bill.energy_cost <= D("0.30") * D(repr(bill.charged_wh)) / 1000 + D("0.01")
    assert sum(p.active_s + p.idle_s for p in bill.periods) == pytest.approx(length_s)
