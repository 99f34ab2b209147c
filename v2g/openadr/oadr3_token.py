"""OAuth2 client-credentials tokens for an OpenADR 3 VTN (RFC 6749 4.4).

Where the token endpoint is: configured (``token_url``), else per the VTN's version.
OpenADR 3.0.1 has no discovery: its API offers ``POST {base}/auth/token`` (3.0.1 YAML,
path ``/auth/token``, "fetchToken"). OpenADR 3.1.0 names its authorization server at
``GET {base}/auth/server`` (``{"tokenURL": ...}``). The request is the 3.0.1
``clientCredentialRequest``: a form with ``grant_type``, ``client_id`` and
``client_secret`` in the body (RFC 6749 2.3.1 lets a server also take HTTP Basic; the
spec's form needs the body, so both are sent).
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote_plus

import aiohttp

from v2g.clock import Clock

#: Renew this long before expiry, so a request never leaves with a dying token.
RENEW_MARGIN = timedelta(seconds=30)
#: OpenADR 3 versions this client speaks.
VERSIONS = ("3.0.1", "3.1.0")


class TokenError(RuntimeError):
    """The token endpoint refused us or could not be reached (the message carries the
    server's own answer)."""


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and when it stops working."""

    value: str
    expires_at: datetime

    def fresh(self, now: datetime) -> bool:
        return now + RENEW_MARGIN < self.expires_at


def token_form(client_id: str, client_secret: str) -> dict[str, str]:
    """The 3.0.1 ``clientCredentialRequest`` (form-encoded body of ``/auth/token``)."""
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }


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
        version: str = "3.0.1",
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"OpenADR version {version!r}: expected one of {VERSIONS}")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token_url = token_url
        self._version = version
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

    async def token_url(self) -> str:
        """The token endpoint: configured, 3.0.1's ``/auth/token``, or discovered."""
        if self._token_url is None:
            if self._version == "3.0.1":
                self._token_url = f"{self._base_url}/auth/token"
            else:
                self._token_url = await self._discover()
        return self._token_url

    async def _fetch(self, now: datetime) -> Token:
        url = await self.token_url()
        pair = f"{quote_plus(self._client_id)}:{quote_plus(self._client_secret)}"
        headers = {"Authorization": "Basic " + b64encode(pair.encode()).decode()}
        form = token_form(self._client_id, self._client_secret)
        try:
            async with self._session.post(url, data=form, headers=headers) as response:
                text = await response.text()
                body = _json_object(text)
                if response.status != 200:
                    raise TokenError(
                        f"token endpoint {url} answered {response.status}: {text[:300]}"
                    )
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TokenError(f"token endpoint {url} unreachable: {error}") from error
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenError(f"token endpoint {url} gave no access_token: {text[:300]}")
        lifetime = body.get("expires_in", 3600)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise TokenError(f"token endpoint {url}: expires_in {lifetime!r} is not > 0 s")
        self.fetched += 1
        return Token(token, now + timedelta(seconds=float(lifetime)))

    async def _discover(self) -> str:
        url = f"{self._base_url}/auth/server"
        try:
            async with self._session.get(url) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TokenError(f"VTN unreachable for token discovery at {url}: {error}") from error
        found = _json_object(text).get("tokenURL")
        if status != 200 or not isinstance(found, str) or not found:
            raise TokenError(
                f"token discovery {url} answered {status} without a tokenURL: {text[:300]} "
                "(an OpenADR 3.0.1 VTN has no /auth/server: set version 3.0.1 or token_url)"
            )
        return found


def _json_object(text: str) -> Mapping[str, object]:
    """``text`` as a JSON object, or an empty one (an HTML error page, say)."""
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
