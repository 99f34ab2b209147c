"""Drivers, their tokens and their bookings through the API: operators manage, a
driver sees only their own (403 on anyone else's), bookings never overlap (also when
they race), expire when nobody plugs in, and every bad input changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.api.conftest import T0
from v2g.session import SessionStarted

HOUR = timedelta(hours=1)


def booking(**changes):
    body = {
        "evse_id": "evse-a",
        "start": (T0 + HOUR).isoformat(),
        "end": (T0 + 3 * HOUR).isoformat(),
        "departure": (T0 + 3 * HOUR).isoformat(),
        "energy_wh": 20_000,
        "v2g": True,
    }
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


async def register(api, driver_id, name="A driver"):
    response = await api.client.post(
        "/api/v1/drivers",
        json={"driver_id": driver_id, "name": name},
        headers=api.auth("operator"),
    )
    assert response.status == 201
    return await response.json()


async def book(api, role="driver", **changes):
    return await api.client.post(
        "/api/v1/reservations", json=booking(**changes), headers=api.auth(role)
    )


async def listed(api, role="operator"):
    response = await api.client.get("/api/v1/reservations", headers=api.auth(role))
    return (await response.json())["reservations"]


async def test_an_operator_registers_a_driver_and_their_tokens(api):
    await register(api, "d-2", "Ada")
    token = {"type": "ISO14443", "value": "04a1b2c3d4e5f6"}
    made = await api.client.post(
        "/api/v1/drivers/d-2/id-tokens", json=token, headers=api.auth("operator")
    )
    assert made.status == 201
    assert (await made.json())["value"] == "04A1B2C3D4E5F6"  # stored as compared: upper case
    view = await (await api.client.get("/api/v1/drivers/d-2", headers=api.auth("operator"))).json()
    assert [t["value"] for t in view["id_tokens"]] == ["04A1B2C3D4E5F6"]


async def test_a_driver_sees_their_own_driver_and_not_another(api):
    await register(api, "d-2")
    own = await api.client.get("/api/v1/drivers/d-1", headers=api.auth("driver"))
    assert own.status == 200
    other = await api.client.get("/api/v1/drivers/d-2", headers=api.auth("driver"))
    assert other.status == 403
    for path in ("/api/v1/drivers", "/api/v1/sessions", "/api/v1/cdrs", "/api/v1/fleet"):
        assert (await api.client.get(path, headers=api.auth("driver"))).status == 403, path


async def test_a_driver_books_for_themself_and_sees_only_their_bookings(api):
    await register(api, "d-2")
    mine = await book(api)
    assert mine.status == 201
    theirs = await book(api, role="operator", driver_id="d-2", evse_id="evse-b")
    assert theirs.status == 201
    seen = await listed(api, "driver")
    assert [b["driver_id"] for b in seen] == ["d-1"]
    other_id = (await theirs.json())["reservation_id"]
    for method in ("GET", "DELETE"):
        response = await api.client.request(
            method, f"/api/v1/reservations/{other_id}", headers=api.auth("driver")
        )
        assert response.status == 403, method
    assert len(await listed(api)) == 2
    spoofed = await book(api, driver_id="d-2", evse_id="evse-b", start=(T0 + 5 * HOUR).isoformat())
    assert spoofed.status == 403


async def test_overlapping_bookings_of_one_evse_are_refused_and_the_site_finds_a_free_one(api):
    assert (await book(api)).status == 201
    taken = await book(api, start=(T0 + 2 * HOUR).isoformat(), end=(T0 + 4 * HOUR).isoformat())
    assert taken.status == 409 and "evse-a is booked" in (await taken.json())["detail"]
    site_wide = await book(api, evse_id=..., site=True)
    assert site_wide.status == 201 and (await site_wide.json())["evse_id"] == "evse-b"
    none_left = await book(api, evse_id=..., site=True)
    assert none_left.status == 409
    back_to_back = await book(
        api,
        start=(T0 + 3 * HOUR).isoformat(),
        end=(T0 + 4 * HOUR).isoformat(),
        departure=(T0 + 4 * HOUR).isoformat(),
    )
    assert back_to_back.status == 201


async def test_concurrent_bookings_of_one_evse_exactly_one_wins(api):
    answers = await asyncio.gather(*(book(api) for _ in range(12)))
    assert sorted(a.status for a in answers) == [201] + [409] * 11
    assert len(await listed(api)) == 1


async def test_a_booking_nobody_plugs_in_for_is_released_and_one_with_its_car_is_used(api):
    first = await (await book(api)).json()
    second = await (await book(api, evse_id="evse-b")).json()
    clock = api.services.aggregator.clock
    clock.advance(3600 + 60)  # type: ignore[attr-defined]
    started = SessionStarted("evse-b", "s-9", clock.now(), "car", "-20")
    await api.services.sessions.record(started)
    clock.advance(15 * 60)  # type: ignore[attr-defined]
    statuses = {b["reservation_id"]: b["status"] for b in await listed(api)}
    assert statuses == {first["reservation_id"]: "no_show", second["reservation_id"]: "used"}
    # Released: evse-a can be booked again for that time.
    again = await book(api, start=clock.now().isoformat())
    assert again.status == 201


async def test_a_driver_cancels_a_booking_once(api):
    made = await (await book(api)).json()
    path = f"/api/v1/reservations/{made['reservation_id']}"
    assert (await api.client.delete(path, headers=api.auth("driver"))).status == 200
    assert (await api.client.delete(path, headers=api.auth("driver"))).status == 409
    assert (await (await api.client.get(path, headers=api.auth("driver"))).json())["status"] == (
        "cancelled"
    )


async def planned(api) -> dict:
    """The plan after the bookings reached the planner and a cycle ran."""
    await api.services.booked.refresh()
    await api.services.aggregator.cycle()
    await api.services.feed.settled()
    return await (await api.client.get("/api/v1/plan", headers=api.auth("viewer"))).json()


async def test_a_booking_counts_in_the_plan_from_its_start_until_it_is_cancelled(api):
    made = await (await book(api)).json()
    plan = await planned(api)
    expected = [n for n in plan["notes"] if n.startswith("expected: evse-a (booking ")]
    assert len(expected) == 1
    assert "from 19:00, 20.0 kWh by 21:00" in expected[0]
    # The car plugged in at evse-a now is not the booked one; nothing goes to the booking.
    assert {s["evse_id"] for s in plan["setpoints"]} == {"evse-a", "evse-b"}

    path = f"/api/v1/reservations/{made['reservation_id']}"
    assert (await api.client.delete(path, headers=api.auth("driver"))).status == 200
    plan = await planned(api)
    assert not any(n.startswith("expected:") for n in plan["notes"])


BAD_BOOKINGS = {
    "overlapping ends": (booking(end=T0.isoformat()), "end: must be after start"),
    "in the past": (
        booking(start=(T0 - HOUR).isoformat(), departure=(T0 + HOUR).isoformat()),
        "start: in the past",
    ),
    "unknown EVSE": (booking(evse_id="evse-x"), "no EVSE 'evse-x'"),
    "negative energy": (booking(energy_wh=-5), "energy_wh"),
    "absurd energy": (booking(energy_wh=5e9), "energy_wh"),
    "too long": (
        booking(end=(T0 + 40 * HOUR).isoformat(), departure=(T0 + 40 * HOUR).isoformat()),
        "24 h",
    ),
    "too far ahead": (
        booking(
            start=(T0 + timedelta(days=40)).isoformat(),
            end=(T0 + timedelta(days=40, hours=1)).isoformat(),
            departure=(T0 + timedelta(days=40, hours=1)).isoformat(),
        ),
        "30 days",
    ),
    "naive time": (booking(start="2026-07-01T19:00:00"), "naive time"),
    "both evse and site": (booking(site=True), "exactly one"),
    "unknown field": (booking(colour="red"), "colour"),
    "departure before start": (booking(departure=T0.isoformat()), "departure"),
}


@pytest.mark.parametrize("case", BAD_BOOKINGS, ids=list(BAD_BOOKINGS))
async def test_a_bad_booking_is_refused_with_the_field_named_and_changes_nothing(api, case):
    body, reason = BAD_BOOKINGS[case]
    response = await api.client.post("/api/v1/reservations", json=body, headers=api.auth("driver"))
    assert response.status == 400 and response.content_type == "application/problem+json"
    problem = await response.json()
    assert reason in " ".join(problem.get("errors", [])) + problem["detail"]
    assert await listed(api) == []


BAD_TOKENS = {
    "UID not hex": ({"type": "ISO14443", "value": "not-hex"}, "ISO 14443 UID"),
    "UID wrong length": ({"type": "ISO14443", "value": "04A1B2"}, "ISO 14443 UID"),
    "eMAID malformed": ({"type": "eMAID", "value": "DE-8AA"}, "eMAID"),
    "unknown type": ({"type": "Fingerprint", "value": "x"}, "type: one of"),
    "until before from": (
        {
            "type": "Central",
            "value": "app-1",
            "valid_from": T0.isoformat(),
            "valid_until": (T0 - HOUR).isoformat(),
        },
        "valid_until",
    ),
    "blocked not a bool": ({"type": "Central", "value": "app-1", "blocked": "yes"}, "blocked"),
}


@pytest.mark.parametrize("case", BAD_TOKENS, ids=list(BAD_TOKENS))
async def test_a_bad_token_is_refused_and_the_driver_keeps_their_tokens(api, case):
    body, reason = BAD_TOKENS[case]
    response = await api.client.post(
        "/api/v1/drivers/d-1/id-tokens", json=body, headers=api.auth("operator")
    )
    assert response.status == 400
    problem = await response.json()
    assert reason in " ".join(problem.get("errors", [])) + problem["detail"]
    assert await api.services.drivers.tokens_of("d-1") == []


async def test_a_token_of_one_driver_cannot_be_given_to_another(api):
    await register(api, "d-2")
    token = {"type": "Central", "value": "app-7"}
    path = "/api/v1/drivers/{}/id-tokens"
    assert (
        await api.client.post(path.format("d-1"), json=token, headers=api.auth("operator"))
    ).status == 201
    taken = await api.client.post(path.format("d-2"), json=token, headers=api.auth("operator"))
    assert taken.status == 409
    assert await api.services.drivers.tokens_of("d-2") == []


async def test_registering_a_driver_twice_or_with_a_bad_id_changes_nothing(api):
    again = await api.client.post(
        "/api/v1/drivers", json={"driver_id": "d-1", "name": "x"}, headers=api.auth("operator")
    )
    assert again.status == 409
    bad = await api.client.post(
        "/api/v1/drivers", json={"driver_id": "a b", "name": "x"}, headers=api.auth("operator")
    )
    assert bad.status == 400
    assert [d.driver_id for d in await api.services.drivers.drivers()] == ["d-1"]
