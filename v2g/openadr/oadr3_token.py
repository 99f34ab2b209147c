"""OAuth2 client-credentials tokens for an OpenADR 3 VTN (RFC 6749 4.4; OpenADR
3.0.1 "Security": the VTN names its token endpoint at ``GET /auth/server``)."""

from __future__ import annotations

from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus

import aiohttp

from v2g.clock import Clock

#: Renew this long before expiry, so a request never leaves with a dying token.
RENEW_MARGIN = timedelta(seconds=30)


class TokenError(RuntimeError):
    """The token endpoint refused us or could not be reached."""


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and when it stops working."""

    value: str
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now + RENEW_MARGIN < self.expires_at


class TokenSource:
    """Fetches a token when there is none or it is about to expire."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        client_id: str,
        client_secret: str,
        clock: Clock,
        token_url: str | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token_url = token_url
        self._token: Token | None = None
        self.fetched = 0

    def invalidate(self) -> None:
        """Forget the token (the VTN answered 401)."""
        self._token = None

    async def token(self) -> str:
        now = self._clock.now()
        if self._token is None or not self._token.fresh(now):
            self._token = await self._fetch(now)
        return self._token.value

    async def _fetch(self, now: datetime) -> Token:
        url = self._token_url or await self._discover()
        form = {"grant_type": "client_credentials"}
        # RFC 6749 2.3.1: HTTP Basic with the form-encoded id and secret.
        pair = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret)}"
        headers = {"Authorization": "Basic " + b64encode(pair.encode()).decode()}
        try:
            async with self._session.post(url, data=form, headers=headers) as response:
                body = await response.json(content_type=None)
                if response.status != 200:
                    raise TokenError(f"token endpoint answered {response.status}: {body}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TokenError(f"token endpoint unreachable: {error}") from error
        self.fetched += 1
        lifetime = float(body.get("expires_in", 3600))
        return Token(str(body["access_token"]), now + timedelta(seconds=lifetime))

    async def _discover(self) -> str:
        try:
            async with self._session.get(f"{self._base_url}/auth/server") as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TokenError(f"VTN unreachable for token discovery: {error}") from error
        self._token_url = str(body["tokenURL"])
        return self._token_url
