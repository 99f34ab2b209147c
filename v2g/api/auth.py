"""Bearer tokens and roles: who is asking, and may they.

A token comes in ``Authorization: Bearer <token>``; browsers cannot set that header on
a WebSocket, so the stream also accepts it as a ``bearer.<token>`` subprotocol. A
token is never logged: the access log writes the request line only, and the
dashboard keeps its token in the URL fragment, which browsers never send.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from aiohttp import web

from v2g.api.problem import Handler, Middleware, Problem
from v2g.api.ratelimit import TokenBuckets
from v2g.store import SqlTokenStore, TokenHolder
from v2g.store.tokens import token_hash

HOLDER: web.RequestKey[TokenHolder] = web.RequestKey("holder", TokenHolder)

#: Subprotocol prefix that carries a token on WebSocket handshakes.
SUBPROTOCOL_PREFIX = "bearer."
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="v2g"'}


class TokenCheck:
    """Finds token holders in the store, remembering hits for ``ttl_s`` so a busy API
    does not query the store on every request (a revocation takes at most that long)."""

    def __init__(
        self,
        store: SqlTokenStore,
        ttl_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._known: dict[str, tuple[TokenHolder, float]] = {}

    async def holder(self, token: str) -> TokenHolder | None:
        key = token_hash(token)
        now = self._monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await self._store.find(token)
        if found is None:
            self._known.pop(key, None)
        else:
            self._known[key] = (found, now + self._ttl_s)
        return found


def presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        if offered.strip().startswith(SUBPROTOCOL_PREFIX):
            return offered.strip().removeprefix(SUBPROTOCOL_PREFIX)
    return None


def auth_middleware(
    roles_of: Mapping[tuple[str, str], frozenset[str]],
    check: Callable[[web.Request], TokenCheck],
    buckets: Callable[[web.Request], TokenBuckets],
) -> Middleware:
    """A middleware that lets a request through to a protected route (``roles_of`` by
    method and path template) only with a valid token of an allowed role: 401
    without one, 403 for another role, 429 when the token spent its requests
    (``buckets``). Routes not in ``roles_of`` are public."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        template = route.resource.canonical if route.resource is not None else ""
        method = "GET" if request.method == "HEAD" else request.method
        allowed = roles_of.get((method, template))
        if allowed is None:
            return await handler(request)
        token = presented_token(request)
        if token is None:
            raise Problem(
                401, "Unauthorized", "this route needs a bearer token", headers=CHALLENGE
            )
        holder = await check(request).holder(token)
        if holder is None:
            raise Problem(401, "Unauthorized", "unknown or revoked token", headers=CHALLENGE)
        if holder.role not in allowed:
            raise Problem(
                403,
                "Forbidden",
                f"role {holder.role} may not {method} {template} "
                f"(allowed: {', '.join(sorted(allowed))})",
            )
        _spend(buckets(request), holder)
        request[HOLDER] = holder
        return await handler(request)

    return middleware


def _spend(buckets: TokenBuckets, holder: TokenHolder) -> None:
    wait_s = buckets.take(holder.token_id)
    if wait_s > 0:
        limit = buckets.limit
        raise Problem(
            429,
            "Too Many Requests",
            f"token {holder.token_id} sent more than {limit.burst} requests at once or "
            f"{limit.requests_per_s:g} per second; retry in {wait_s:.2f} s",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
