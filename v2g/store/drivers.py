"""Drivers, their identification tokens, their bookings and the audit of refused
tokens. Bookings of one EVSE never overlap, also when requests race: the check and
the insert run under one lock (and a table lock on PostgreSQL, where several
processes may share the store)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.drivers import (
    BOOKED,
    CANCELLED,
    USED,
    Decision,
    IdTokenRecord,
    Reservation,
    ReservationRequest,
    decide,
    free_evse,
    released,
)
from v2g.drivers.reservations import NO_SHOW_GRACE
from v2g.store.schema import (
    authorizations,
    drivers,
    id_tokens,
    reservations,
    session_drivers,
)
from v2g.store.times import aware
from v2g.usage import SessionSpan


class DriverExists(ValueError):
    pass


class EvseTaken(ValueError):
    """No EVSE is free for the requested window."""


@dataclass(frozen=True, slots=True)
class Driver:
    driver_id: str
    name: str
    created_at: datetime
    blocked: bool


class SqlDriverStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._booking = asyncio.Lock()

    async def create(self, driver_id: str, name: str, at: datetime) -> Driver:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    drivers.insert().values(driver_id=driver_id, name=name, created_at=at)
                )
        except IntegrityError:
            raise DriverExists(f"driver {driver_id} exists") from None
        return Driver(driver_id, name, at, False)

    async def driver(self, driver_id: str) -> Driver | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(drivers).where(drivers.c.driver_id == driver_id))
            ).first()
        return None if row is None else _driver(row._mapping)

    async def drivers(self) -> list[Driver]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(drivers).order_by(drivers.c.driver_id))
            return [_driver(r) for r in rows.mappings()]

    async def put_token(self, record: IdTokenRecord) -> bool:
        """Adds or changes a token of ``record.driver_id``; True if it was new. A token
        held by another driver is refused (DriverExists)."""
        key = (id_tokens.c.token_type == record.token_type) & (id_tokens.c.value == record.value)
        values = {
            "driver_id": record.driver_id,
            "valid_from": record.valid_from,
            "valid_until": record.valid_until,
            "blocked": record.blocked,
        }
        async with self._engine.begin() as connection:
            held = (await connection.execute(select(id_tokens.c.driver_id).where(key))).first()
            if held is None:
                await connection.execute(
                    id_tokens.insert().values(
                        token_type=record.token_type, value=record.value, **values
                    )
                )
                return True
            if held[0] != record.driver_id:
                raise DriverExists(f"token {record.value} belongs to another driver")
            await connection.execute(update(id_tokens).where(key).values(**values))
            return False

    async def tokens_of(self, driver_id: str) -> list[IdTokenRecord]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(id_tokens).where(id_tokens.c.driver_id == driver_id)
            )
            return [_token(r) for r in rows.mappings()]

    async def all_tokens(self) -> list[tuple[IdTokenRecord, bool]]:
        """Every token, each with whether its driver is blocked."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(id_tokens, drivers.c.blocked_at)
                .join(drivers, drivers.c.driver_id == id_tokens.c.driver_id)
                .order_by(id_tokens.c.token_type, id_tokens.c.value)
            )
            return [(_token(r), r["blocked_at"] is not None) for r in rows.mappings()]

    async def authorize(
        self, token_type: str, value: str, at: datetime, door: str, evse_id: str | None = None
    ) -> Decision:
        """The decision for a presented token; a refusal is audited with its reason."""
        decision = await self.decision(token_type, value, at)
        if not decision.accepted:
            await self.audit(token_type, value, at, door, evse_id, decision)
        return decision

    async def decision(self, token_type: str, value: str, at: datetime) -> Decision:
        """The decision for a presented token, not audited."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(id_tokens, drivers.c.blocked_at)
                    .join(drivers, drivers.c.driver_id == id_tokens.c.driver_id)
                    .where(id_tokens.c.token_type == token_type, id_tokens.c.value == value)
                )
            ).first()
        record = None if row is None else _token(row._mapping)
        return decide(record, row is not None and row.blocked_at is not None, at)

    async def audit(
        self,
        token_type: str,
        value: str,
        at: datetime,
        door: str,
        evse_id: str | None,
        decision: Decision,
    ) -> None:
        """Keeps a refusal with its reason."""
        async with self._engine.begin() as connection:
            await connection.execute(
                authorizations.insert().values(
                    at=at,
                    door=door,
                    token_type=token_type,
                    value=value[:64],
                    evse_id=evse_id,
                    status=decision.status,
                    driver_id=decision.driver_id,
                    reason=decision.reason[:256],
                )
            )

    async def refusals(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(authorizations).order_by(authorizations.c.id.desc()).limit(limit)
            )
            return [dict(r) for r in rows.mappings()]

    async def book(
        self, request: ReservationRequest, evse_ids: Sequence[str], at: datetime
    ) -> Reservation:
        """Books ``request`` on its EVSE (or the site's first free one); EvseTaken when
        none is free. Check and insert are one step for every racing request."""
        # SQLite keeps wall times without their zone: every time goes in as UTC.
        request = replace(
            request,
            start=request.start.astimezone(UTC),
            end=request.end.astimezone(UTC),
            departure=request.departure.astimezone(UTC),
        )
        async with self._booking, self._engine.begin() as connection:
            await _lock(connection)
            booked = await _booked(connection, request.start, request.end)
            evse_id = free_evse(request, evse_ids, booked)
            if evse_id is None:
                where = request.evse_id or "any EVSE of the site"
                window = f"{request.start.isoformat()} and {request.end.isoformat()}"
                raise EvseTaken(f"{where} is booked between {window}")
            booking = Reservation(
                secrets.token_hex(8),
                request.driver_id,
                evse_id,
                request.start,
                request.end,
                request.departure,
                request.energy_wh,
                request.v2g,
            )
            await connection.execute(
                reservations.insert().values(
                    reservation_id=booking.reservation_id,
                    driver_id=booking.driver_id,
                    evse_id=booking.evse_id,
                    start=booking.start,
                    end=booking.end,
                    departure=booking.departure,
                    energy_wh=booking.energy_wh,
                    v2g=booking.v2g,
                    status=BOOKED,
                    created_at=at,
                )
            )
        return booking

    async def reservation(self, reservation_id: str) -> Reservation | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(reservations).where(reservations.c.reservation_id == reservation_id)
                )
            ).first()
        return None if row is None else _reservation(row._mapping)

    async def reservations(self, driver_id: str | None = None) -> list[Reservation]:
        """Every booking (or ``driver_id``'s), newest start first."""
        query = select(reservations).order_by(reservations.c.start.desc())
        if driver_id is not None:
            query = query.where(reservations.c.driver_id == driver_id)
        async with self._engine.connect() as connection:
            return [_reservation(r) for r in (await connection.execute(query)).mappings()]

    async def open_bookings(self, evse_id: str | None = None) -> list[Reservation]:
        """The bookings still open (neither used, cancelled nor released), at
        ``evse_id`` or every EVSE."""
        query = select(reservations).where(reservations.c.status == BOOKED)
        if evse_id is not None:
            query = query.where(reservations.c.evse_id == evse_id)
        async with self._engine.connect() as connection:
            return [_reservation(r) for r in (await connection.execute(query)).mappings()]

    async def settle(self, booking: Reservation, now: datetime, plugged_in: bool) -> Reservation:
        """``booking`` with the status it has at ``now`` (``released``: a no-show, or
        used by the car that plugged in), stored when it changed."""
        status = released(booking, now, plugged_in)
        if status != booking.status:
            await self.set_status(booking.reservation_id, status)
        return replace(booking, status=status)

    async def set_status(self, reservation_id: str, status: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(reservations)
                .where(reservations.c.reservation_id == reservation_id)
                .values(status=status)
            )

    async def cancel(self, reservation_id: str) -> bool:
        """Cancels a booking still open; False if it was not."""
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(reservations)
                .where(
                    reservations.c.reservation_id == reservation_id,
                    reservations.c.status == BOOKED,
                )
                .values(status=CANCELLED)
            )
        return bool(done.rowcount)

    async def link_session(self, session_id: str, driver_id: str, how: str, at: datetime) -> None:
        """Records whose ``session_id`` is (the first link wins)."""
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    session_drivers.insert().values(
                        session_id=session_id, driver_id=driver_id, how=how, at=at
                    )
                )
        except IntegrityError:
            pass  # linked before: a session has one driver

    async def driver_of(self, span: SessionSpan) -> str | None:
        """The session's driver: linked at authorization, else the driver whose
        booking of that EVSE the session started in (from 15 min before its start)."""
        async with self._engine.connect() as connection:
            linked = (
                await connection.execute(
                    select(session_drivers.c.driver_id).where(
                        session_drivers.c.session_id == span.session_id
                    )
                )
            ).first()
            if linked is not None:
                return str(linked[0])
            started = span.started_at.astimezone(UTC)
            booked = (
                await connection.execute(
                    select(reservations.c.driver_id).where(
                        reservations.c.evse_id == span.evse_id,
                        reservations.c.start <= started + NO_SHOW_GRACE,
                        reservations.c.end > started,
                        reservations.c.status.in_((BOOKED, USED)),
                    )
                )
            ).first()
        return None if booked is None else str(booked[0])


async def _lock(connection: AsyncConnection) -> None:
    if connection.dialect.name == "postgresql":
        await connection.execute(text("LOCK TABLE reservations IN SHARE ROW EXCLUSIVE MODE"))


async def _booked(
    connection: AsyncConnection, start: datetime, end: datetime
) -> list[Reservation]:
    rows = await connection.execute(
        select(reservations).where(
            reservations.c.start < end.astimezone(UTC), reservations.c.end > start.astimezone(UTC)
        )
    )
    return [_reservation(r) for r in rows.mappings()]


def _driver(row: Any) -> Driver:
    return Driver(
        row["driver_id"], row["name"], aware(row["created_at"]), row["blocked_at"] is not None
    )


def _token(row: Any) -> IdTokenRecord:
    until = row["valid_until"]
    return IdTokenRecord(
        row["token_type"],
        row["value"],
        row["driver_id"],
        aware(row["valid_from"]),
        None if until is None else aware(until),
        bool(row["blocked"]),
    )


def _reservation(row: Any) -> Reservation:
    return Reservation(
        row["reservation_id"],
        row["driver_id"],
        row["evse_id"],
        aware(row["start"]),
        aware(row["end"]),
        aware(row["departure"]),
        float(row["energy_wh"]),
        bool(row["v2g"]),
        row["status"],
    )
