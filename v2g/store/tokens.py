"""API tokens: created once, shown once, kept only as a hash.

A token reads ``v2g_<token id>_<secret>``. The token id is public (it names the actor
in the audit); the secret is 256 random bits. Only SHA-256 of the whole token is
stored: with that much entropy a fast hash is as good as a slow one, and checking a
request costs one hash and one lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.store.schema import tokens

PREFIX = "v2g_"


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who presented a valid token: its public id and its role."""

    token_id: str
    role: str
    #: Role "driver": the driver it speaks for.
    driver_id: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SqlTokenStore:
    """Creates, finds and revokes tokens by their hash."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def create(
        self, role: str, now: datetime, driver_id: str | None = None
    ) -> tuple[TokenHolder, str]:
        """A new token for ``role`` (``driver_id``: the driver a driver token speaks
        for): its holder and the token itself, never stored, never shown again."""
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        async with self._engine.begin() as connection:
            await connection.execute(
                tokens.insert().values(
                    token_id=token_id,
                    role=role,
                    secret_sha256=token_hash(token),
                    created_at=now,
                    driver_id=driver_id,
                )
            )
        return TokenHolder(token_id, role, driver_id), token

    async def find(self, token: str) -> TokenHolder | None:
        """The holder of ``token``, or None when it is unknown or revoked."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(tokens.c.token_id, tokens.c.role, tokens.c.driver_id).where(
                        tokens.c.secret_sha256 == token_hash(token),
                        tokens.c.revoked_at.is_(None),
                    )
                )
            ).first()
        return None if row is None else TokenHolder(row.token_id, row.role, row.driver_id)

    async def revoke(self, token_id: str, now: datetime) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(tokens)
                .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(result.rowcount)
