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
from msgspec import UNSET

from v2g.api import schemas, wire
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


def _own(request: web.Request, driver_id: str) -> None:
    """A driver token may act for its own driver only."""
    holder = request[HOLDER]
    if holder.role == DRIVER and holder.driver_id != driver_id:
        raise Problem(403, "Forbidden", "a driver token sees its own driver only")


async def post_driver(request: web.Request) -> web.Response:
    given = await wire.body(request, schemas.DriverBody)
    try:
        driver_id = driver_id_of(given.driver_id or f"d-{secrets.token_hex(6)}")
    except TokenError as error:
        raise wire.Invalid([str(error)]) from None
    found = services(request)
    try:
        driver = await found.drivers.create(driver_id, given.name, found.aggregator.clock.now())
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
    given = await wire.body(request, schemas.IdToken)
    found = services(request)
    if await found.drivers.driver(driver_id) is None:
        raise Problem(404, "Not Found", f"no driver {driver_id}")
    record = _token_record(given, driver_id, found.aggregator.clock.now())
    try:
        new = await found.drivers.put_token(record)
    except DriverExists as error:
        raise Problem(409, "Conflict", str(error)) from None
    if found.station_lists is not None:
        found.station_lists.wake()
    return document(_token(record), 201 if new else 200)


def _token_record(given: schemas.IdToken, driver_id: str, now: datetime) -> IdTokenRecord:
    try:
        value = normalised(given.type, given.value)
    except TokenError as error:
        raise wire.Invalid([str(error)]) from None
    valid_from = now if given.valid_from is UNSET else given.valid_from
    if given.valid_until is not None and given.valid_until <= valid_from:
        raise wire.Invalid(["valid_until: must be after valid_from"])
    return IdTokenRecord(
        given.type, value, driver_id, valid_from, given.valid_until, given.blocked
    )


async def authorizations(request: web.Request) -> web.Response:
    """The audit of refused tokens, newest first."""
    refused = await services(request).drivers.refusals()
    return document({"refusals": refused})


async def post_reservation(request: web.Request) -> web.Response:
    given = await wire.body(request, schemas.ReservationBody)
    found = services(request)
    now = found.aggregator.clock.now()
    booking = _booking(given, request)
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


def _booking(given: schemas.ReservationBody, request: web.Request) -> ReservationRequest:
    holder = request[HOLDER]
    driver_id = holder.driver_id if holder.role == DRIVER else given.driver_id
    if holder.role == DRIVER and given.driver_id not in (UNSET, driver_id):
        raise Problem(403, "Forbidden", "a driver token books for its own driver only")
    errors = []
    if not isinstance(driver_id, str):
        errors.append("driver_id: the driver the booking is for (operators give it)")
    evse_id = None if given.evse_id is UNSET else given.evse_id
    if (evse_id is None) != given.site:
        errors.append('evse_id or "site": true: exactly one')
    if errors or not isinstance(driver_id, str):
        raise wire.Invalid(errors)
    return ReservationRequest(
        driver_id, evse_id, given.start, given.end, given.departure, given.energy_wh, given.v2g
    )


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
