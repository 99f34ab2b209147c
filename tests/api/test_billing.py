"""Tariffs through the API (all or nothing, audited), bills in the session view
(running, then frozen), CDRs of ended sessions, and a frozen bill that equals a
recomputation from the stored meter values to the cent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.api.conftest import T0
from tests.billing.test_ocpi_independent import ocpi_python, verdicts  # noqa: F401
from v2g.billing import session_bill
from v2g.billing.documents import tariff_of
from v2g.drivers import ReservationRequest
from v2g.session import PowerMeasured, SessionEnded, SessionStarted
from v2g.usage import SessionSpan

TARIFF = {
    "id": "tou",
    "currency": "EUR",
    "energy_price_per_kwh": "0.35",
    "bands": [{"price_per_kwh": "0.20", "start": "00:00", "end": "07:00"}],
    "v2g_remuneration_per_kwh": "0.25",
    "idle_fee_per_min": "0.10",
    "idle_grace_min": 30,
    "vat_percent": "21",
}


async def put(api, body, role="operator"):
    return await api.client.put("/api/v1/tariffs", json=body, headers=api.auth(role))


async def in_force(api):
    response = await api.client.get("/api/v1/tariffs", headers=api.auth("viewer"))
    return (await response.json())["tariffs"]


async def a_session_yesterday(api, session_id="u1", evse="evse-a"):
    """11 kW for 2 h from 15:00, 5 kW back to the grid for 1 h, then 1 h idle."""
    begin = T0 - timedelta(hours=3)
    record = api.services.sessions.record
    await record(SessionStarted(evse, session_id, begin - timedelta(hours=1), "car", "-2"))
    await record(PowerMeasured(evse, session_id, begin - timedelta(hours=1), 11_000.0))
    await record(PowerMeasured(evse, session_id, begin + timedelta(hours=1), -5_000.0))
    await record(PowerMeasured(evse, session_id, begin + timedelta(hours=2), 0.0))
    await record(SessionEnded(evse, session_id, begin + timedelta(hours=3), "done"))


async def test_tariffs_are_put_in_force_and_audited(api):
    response = await put(api, {"tariffs": [TARIFF]})
    assert response.status == 200
    (shown,) = await in_force(api)
    assert shown["energy_price_per_kwh"] == "0.35" and shown["bands"][0]["start"] == "00:00"
    (entry,) = await api.services.audit.entries()
    assert entry.command == "put_tariffs" and entry.accepted


BAD_TARIFFS = {
    "absurd price": ({"tariffs": [TARIFF | {"energy_price_per_kwh": 99}]}, "energy_price_per_kwh"),
    "negative idle fee": ({"tariffs": [TARIFF | {"idle_fee_per_min": -1}]}, "idle_fee_per_min"),
    "duplicate ids": ({"tariffs": [TARIFF, TARIFF]}, "appears twice"),
    "unknown field": ({"tariffs": [TARIFF | {"colour": "red"}]}, "colour"),
    "no tariffs": ({"tariffs": []}, "tariffs: must not be empty"),
    "band off the quarter": (
        {
            "tariffs": [
                TARIFF | {"bands": [{"price_per_kwh": 0.2, "start": "07:10", "end": "08:00"}]}
            ]
        },
        "bands[0]",
    ),
    "money as a bool": ({"tariffs": [TARIFF | {"vat_percent": True}]}, "vat_percent"),
    "extra top-level key": ({"tariffs": [TARIFF], "x": 1}, "x: unknown field"),
}


@pytest.mark.parametrize("case", BAD_TARIFFS, ids=list(BAD_TARIFFS))
async def test_a_bad_tariff_set_is_refused_whole_and_changes_nothing(api, case):
    assert (await put(api, {"tariffs": [TARIFF]})).status == 200
    before, audited = await in_force(api), len(await api.services.audit.entries())
    body, reason = BAD_TARIFFS[case]
    response = await put(api, body)
    assert response.status == 400 and response.content_type == "application/problem+json"
    problem = await response.json()
    assert reason in " ".join(problem.get("errors", [])) + problem["detail"]
    assert await in_force(api) == before
    assert len(await api.services.audit.entries()) == audited


async def test_only_operators_put_tariffs(api):
    assert (await put(api, {"tariffs": [TARIFF]}, role="viewer")).status == 403
    assert await in_force(api) == []


async def test_an_ended_session_gets_a_cdr_whose_bill_matches_the_meter_values_to_the_cent(api):
    await put(api, {"tariffs": [TARIFF]})
    await a_session_yesterday(api)
    response = await api.client.get(
        "/api/v1/cdrs", params={"to": T0.isoformat()}, headers=api.auth("operator")
    )
    (cdr,) = (await response.json())["cdrs"]
    assert cdr["session_id"] == "u1" and cdr["total_energy"] == pytest.approx(22.0)
    # Recomputed from what the store kept, with the tariff the bill was frozen with.
    row = await api.services.sessions.session("u1")
    span = SessionSpan("u1", "evse-a", T0 - timedelta(hours=4), T0)
    assert row is not None
    samples = await api.services.sessions.samples("u1")
    again = session_bill(tariff_of(TARIFF), span, samples, T0)
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == again.charges_incl_vat
    view = await (await api.client.get("/api/v1/sessions/u1", headers=api.auth("viewer"))).json()
    assert view["bill"]["final"] is True
    assert Decimal(view["bill"]["net_due"]) == again.net_due
    assert Decimal(view["bill"]["v2g_remuneration"]) == Decimal("1.25")


async def test_a_frozen_bill_keeps_its_tariff_after_the_tariff_changes(api):
    await put(api, {"tariffs": [TARIFF]})
    await a_session_yesterday(api)
    first = await (await api.client.get("/api/v1/cdrs", headers=api.auth("operator"))).json()
    await put(api, {"tariffs": [TARIFF | {"energy_price_per_kwh": "0.99"}]})
    second = await (await api.client.get("/api/v1/cdrs", headers=api.auth("operator"))).json()
    assert second == first


async def test_a_running_session_shows_its_cost_so_far(api):
    await put(api, {"tariffs": [TARIFF | {"bands": []}]})
    view = await (
        await api.client.get("/api/v1/sessions/session-a", headers=api.auth("viewer"))
    ).json()
    assert view["bill"]["final"] is False
    assert view["bill"]["end"] == T0.isoformat()


async def test_without_a_tariff_there_is_no_bill_and_no_cdr(api):
    await a_session_yesterday(api)
    view = await (await api.client.get("/api/v1/sessions/u1", headers=api.auth("viewer"))).json()
    assert view["bill"] is None
    cdrs = await (await api.client.get("/api/v1/cdrs", headers=api.auth("operator"))).json()
    assert cdrs == {"cdrs": []}


async def test_the_cdrs_the_api_serves_are_ocpi_2_2_1_to_an_independent_implementation(
    api,
    ocpi_python,  # noqa: F811
):
    await put(api, {"tariffs": [TARIFF]})
    await a_session_yesterday(api)
    cdrs = await (await api.client.get("/api/v1/cdrs", headers=api.auth("operator"))).json()
    assert verdicts(ocpi_python, [("Cdr", c) for c in cdrs["cdrs"]]) == ["ok"]


async def test_the_driver_who_booked_sees_the_bill_and_it_is_settled_once(api):
    from v2g.testing.payments import FakePaymentProvider

    payments = FakePaymentProvider()
    api.services.billing.payments = payments
    await put(api, {"tariffs": [TARIFF]})
    begin = T0 - timedelta(hours=4)
    await api.services.drivers.book(
        ReservationRequest("d-1", "evse-a", begin, begin + timedelta(hours=4), T0, 20_000, True),
        ["evse-a"],
        begin - timedelta(hours=1),
    )
    await a_session_yesterday(api)
    response = await api.client.get("/api/v1/drivers/d-1/bills", headers=api.auth("driver"))
    (bill,) = (await response.json())["bills"]
    assert bill["session_id"] == "u1" and bill["ledger"]["settled"] is True
    assert Decimal(bill["ledger"]["amount"]) == Decimal(bill["net_due"])
    assert Decimal(bill["v2g_remuneration"]) == Decimal("1.25")
    await api.client.get("/api/v1/drivers/d-1/bills", headers=api.auth("driver"))
    assert list(payments.settled) == ["session:u1"]  # swept again: not charged twice
    other = await api.client.get("/api/v1/drivers/d-2/bills", headers=api.auth("driver"))
    assert other.status == 403


async def test_a_failing_payment_provider_leaves_the_amount_owed_and_billing_goes_on(api):
    from v2g.testing.payments import FakePaymentProvider

    api.services.billing.payments = FakePaymentProvider(failing=True)
    await put(api, {"tariffs": [TARIFF]})
    await api.services.drivers.link_session("u1", "d-1", "test", T0)
    await a_session_yesterday(api)
    response = await api.client.get("/api/v1/drivers/d-1/bills", headers=api.auth("operator"))
    (bill,) = (await response.json())["bills"]
    assert bill["ledger"]["settled"] is False
    assert "unreachable" in bill["ledger"]["reference"]
