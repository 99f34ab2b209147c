"""Drivers, their tokens and their bookings.

Operators manage drivers and tokens and see every booking. A driver token
(``v2g token create --role driver --driver ID``) sees and books for its own driver
only: another driver's resources answer 403, as a route of another role does.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from v2g.api import wire
from v2g.api.auth import HOLDER
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.roles import DRIVER
from v2g.api.services import services
from v2g.drivers import (
    BOOKED,
    IdTokenRecord,
    Reservation,
    ReservationRequest,
    TokenError,
    driver_id_of,
    normalised,
    problems,
)
from v2g.drivers.reservations import NO_SHOW_GRACE, StationAnswer
from v2g.store.drivers import Driver, DriverExists, EvseTaken

_DRIVER_KEYS = {"driver_id", "name"}
_TOKEN_KEYS = {"type", "value", "valid_from", "valid_until", "blocked"}
_BOOKING_KEYS = {"driver_id", "evse_id", "site", "start", "end", "departure", "energy_wh", "v2g"}


def _own(request: web.Request, driver_id: str) -> None:
    """A driver token may act for its own driver only."""
    holder = request[HOLDER]
    if holder.role == DRIVER and holder.driver_id != driver_id:
        raise Problem(403, "Forbidden", "a driver token sees its own driver only")


async def post_driver(request: web.Request) -> web.Response:
    body = await wire.json_object(request)
    errors = wire.unknown_fields(body, _DRIVER_KEYS)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        errors.append("name: 1..200 characters")
    try:
        driver_id = driver_id_of(body.get("driver_id", f"d-{secrets.token_hex(6)}"))
    except TokenError as error:
        errors.append(str(error))
    if errors:
        raise wire.Invalid(errors)
    found = services(request)
    try:
        driver = await found.drivers.create(driver_id, str(name), found.aggregator.clock.now())
    except DriverExists as error:
        raise Problem(409, "Conflict", str(error)) from None
    return document(_driver(driver), 201, Location=f"/api/v1/drivers/{driver.driver_id}")


async def drivers(request: web.Request) -> web.Response:
    listed = await services(request).drivers.drivers()
    return document({"drivers": [_driver(d) for d in listed]})


async def driver(request: web.Request) -> web.Response:
    driver_id = request.match_info["driver_id"]
    _own(request, driver_id)
    store = services(request).drivers
    found = await store.driver(driver_id)
    if found is None:
        raise Problem(404, "Not Found", f"no driver {driver_id}")
    tokens = await store.tokens_of(driver_id)
    return document(_driver(found) | {"id_tokens": [_token(t) for t in tokens]})


async def post_id_token(request: web.Request) -> web.Response:
    """Adds a token to a driver, or changes one it holds (validity, blocked)."""
    driver_id = request.match_info["driver_id"]
    body = await wire.json_object(request)
    found = services(request)
    if await found.drivers.driver(driver_id) is None:
        raise Problem(404, "Not Found", f"no driver {driver_id}")
    record = _token_record(body, driver_id, found.aggregator.clock.now())
    try:
        new = await found.drivers.put_token(record)
    except DriverExists as error:
        raise Problem(409, "Conflict", str(error)) from None
    if found.station_lists is not None:
        found.station_lists.wake()
    return document(_token(record), 201 if new else 200)


def _token_record(body: dict[str, Any], driver_id: str, now: datetime) -> IdTokenRecord:
    errors = wire.unknown_fields(body, _TOKEN_KEYS)
    value = ""
    try:
        value = normalised(str(body.get("type", "")), str(body.get("value", "")))
    except TokenError as error:
        errors.append(str(error))
    valid_from = wire.time_field(body, "valid_from", errors) if "valid_from" in body else now
    until = wire.time_field(body, "valid_until", errors) if "valid_until" in body else None
    blocked = body.get("blocked", False)
    if not isinstance(blocked, bool):
        errors.append("blocked: true or false")
    if valid_from is not None and until is not None and until <= valid_from:
        errors.append("valid_until: must be after valid_from")
    if errors or valid_from is None:
        raise wire.Invalid(errors)
    return IdTokenRecord(str(body["type"]), value, driver_id, valid_from, until, blocked)


async def authorizations(request: web.Request) -> web.Response:
    """The audit of refused tokens, newest first."""
    refused = await services(request).drivers.refusals()
    return document({"refusals": refused})


async def post_reservation(request: web.Request) -> web.Response:
    body = await wire.json_object(request)
    found = services(request)
    now = found.aggregator.clock.now()
    booking = _booking(body, request)
    evse_ids = sorted(found.aggregator.site.chargers)
    errors = problems(booking, evse_ids, now)
    if await found.drivers.driver(booking.driver_id) is None:
        errors.append(f"driver_id: no driver {booking.driver_id}")
    if errors:
        raise wire.Invalid(errors)
    try:
        made = await found.drivers.book(booking, evse_ids, now)
    except EvseTaken as error:
        raise Problem(409, "Conflict", str(error)) from None
    _bookings_changed(request)
    return document(
        _reservation(made), 201, Location=f"/api/v1/reservations/{made.reservation_id}"
    )


def _booking(body: dict[str, Any], request: web.Request) -> ReservationRequest:
    errors = wire.unknown_fields(body, _BOOKING_KEYS)
    holder = request[HOLDER]
    driver_id = holder.driver_id if holder.role == DRIVER else body.get("driver_id")
    if holder.role == DRIVER and body.get("driver_id", driver_id) != driver_id:
        raise Problem(403, "Forbidden", "a driver token books for its own driver only")
    if not isinstance(driver_id, str):
        errors.append("driver_id: the driver the booking is for (operators give it)")
    evse_id, site = body.get("evse_id"), body.get("site", False)
    if (evse_id is None) == (site is not True):
        errors.append('evse_id or "site": true: exactly one')
    if evse_id is not None and not isinstance(evse_id, str):
        errors.append("evse_id: must be a string")
    start, end = wire.time_field(body, "start", errors), wire.time_field(body, "end", errors)
    departure = wire.time_field(body, "departure", errors)
    energy_wh = wire.number_field(body.get("energy_wh"), "energy_wh", errors)
    v2g = body.get("v2g", False)
    if not isinstance(v2g, bool):
        errors.append("v2g: true or false")
    if errors or start is None or end is None or departure is None or energy_wh is None:
        raise wire.Invalid(errors)
    return ReservationRequest(str(driver_id), evse_id, start, end, departure, energy_wh, v2g)


async def reservations(request: web.Request) -> web.Response:
    holder = request[HOLDER]
    mine = holder.driver_id if holder.role == DRIVER else None
    listed = await services(request).drivers.reservations(mine)
    return document(
        {"reservations": [_told(request, await _now_status(request, r)) for r in listed]}
    )


async def reservation(request: web.Request) -> web.Response:
    found = await _reservation_of(request)
    return document(_told(request, await _now_status(request, found)))


async def delete_reservation(request: web.Request) -> web.Response:
    found = await _now_status(request, await _reservation_of(request))
    if found.status != BOOKED:
        raise Problem(409, "Conflict", f"reservation {found.reservation_id} is {found.status}")
    await services(request).drivers.cancel(found.reservation_id)
    _bookings_changed(request)
    return document({"accepted": True, "outcome": f"reservation {found.reservation_id} cancelled"})


def _bookings_changed(request: web.Request) -> None:
    """The planner and (OCPP sites) the stations hear of a booking made or cancelled now."""
    found = services(request)
    found.booked.wake()
    if found.bookings_told is not None:
        found.bookings_told.wake()


async def _reservation_of(request: web.Request) -> Reservation:
    reservation_id = request.match_info["reservation_id"]
    found = await services(request).drivers.reservation(reservation_id)
    if found is None:
        raise Problem(404, "Not Found", f"no reservation {reservation_id}")
    _own(request, found.driver_id)
    return found


async def _now_status(request: web.Request, booking: Reservation) -> Reservation:
    """Releases a booking nobody plugged in for (no-show) or marks it used."""
    if booking.status != BOOKED:
        return booking
    found = services(request)
    now = found.aggregator.clock.now()
    if now < booking.start:
        return booking
    plugged = await found.sessions.started_at(booking.evse_id, booking.start - NO_SHOW_GRACE, now)
    return await found.drivers.settle(booking, now, plugged)


def _driver(driver: Driver) -> dict[str, Any]:
    return {
        "driver_id": driver.driver_id,
        "name": driver.name,
        "created_at": driver.created_at.isoformat(),
        "blocked": driver.blocked,
    }


def _token(record: IdTokenRecord) -> dict[str, Any]:
    return {
        "type": record.token_type,
        "value": record.value,
        "valid_from": record.valid_from.isoformat(),
        "valid_until": None if record.valid_until is None else record.valid_until.isoformat(),
        "blocked": record.blocked,
    }


def _told(request: web.Request, booking: Reservation) -> dict[str, Any]:
    """``booking`` on the wire with what its station said of it."""
    bookings_told = services(request).bookings_told
    told = None if bookings_told is None else bookings_told.answer(booking.reservation_id)
    return _reservation(booking, told)


def _reservation(booking: Reservation, told: StationAnswer | None = None) -> dict[str, Any]:
    station = (
        None
        if told is None
        else {
            "action": told.action,
            "status": told.status,
            "at": told.at.isoformat(),
        }
    )
    return {
        "reservation_id": booking.reservation_id,
        "driver_id": booking.driver_id,
        "evse_id": booking.evse_id,
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "departure": booking.departure.isoformat(),
        "energy_wh": booking.energy_wh,
        "v2g": booking.v2g,
        "status": booking.status,
        # What the station holding the EVSE said (OCPP sites; None: not told yet).
        "station": station,
    }
