"""Charging stations' OCPP credentials: created once, the password shown once and kept
only as a hash (OCPP security profile 1 and 2, basic authentication).

The password is 192 random bits (32 characters, within OCPP's 16..40), so, as for API
tokens (DECISIONS.md 29), SHA-256 is as good as a slow hash and costs a station's
connect one hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import stations

#: OCPP 2.0.1 identifierString (part 2 §2.1.7) as used for a station identity in the
#: connection URL: at most 48 characters, no characters that would need escaping.
STATION_ID = re.compile(r"[A-Za-z0-9*\-_=:+|@.]{1,48}")


class StationExists(ValueError):
    """A station id that is already registered."""


def password_hash(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


class SqlStationStore:
    """Registers stations and checks the credentials they connect with."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(self, station_id: str, now: datetime) -> str:
        """Registers ``station_id`` and returns its new password, which is never
        stored and cannot be shown again (raises StationExists, or ValueError for an id
        OCPP cannot carry)."""
        if not STATION_ID.fullmatch(station_id):
            raise ValueError(
                f"station id {station_id!r}: 1..48 characters of A-Z a-z 0-9 * - _ = : + | @ ."
            )
        password = secrets.token_urlsafe(24)
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    stations.insert().values(
                        station_id=station_id,
                        password_sha256=password_hash(password),
                        created_at=now,
                    )
                )
        except IntegrityError as error:
            raise StationExists(f"station {station_id} already exists") from error
        return password

    async def verify(self, station_id: str, password: str) -> bool:
        """True when ``password`` is the one ``station_id`` was given."""
        if len(password) > 64:
            return False
        async with self._engine.connect() as connection:
            stored = (
                await connection.execute(
                    select(stations.c.password_sha256).where(stations.c.station_id == station_id)
                )
            ).scalar()
        return stored is not None and hmac.compare_digest(stored, password_hash(password))
