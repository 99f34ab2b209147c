"""OCPP ``Authorize`` answered from the site's drivers (v2g.drivers): a token a
driver holds gets that driver's decision (Blocked, Expired, ...); a token no driver
holds (or that no driver's token can look like) falls through to the site's
``[ocpp] id_tokens`` allow list. Every refusal is
audited with its reason (``GET /api/v1/authorizations``)."""

from __future__ import annotations

from v2g.clock import Clock
from v2g.drivers import UNKNOWN, Decision, TokenError, normalised
from v2g.drivers.tokens import TOKEN_TYPES
from v2g.ocpp.authorize import ACCEPTED, Authorizer, IdToken
from v2g.store.drivers import SqlDriverStore


class DriverAuthorizer:
    def __init__(self, drivers: SqlDriverStore, fallback: Authorizer, clock: Clock) -> None:
        self._drivers = drivers
        self._fallback = fallback
        self._clock = clock

    async def status_of(self, token: IdToken) -> str:
        now = self._clock.now()
        value = _driver_form(token)
        if value is not None:
            decision = await self._drivers.decision(token.kind, value, now)
            if decision.status != UNKNOWN:
                if not decision.accepted:
                    await self._drivers.audit(token.kind, value, now, "ocpp", None, decision)
                return decision.status
        status = await self._fallback.status_of(token)
        if status != ACCEPTED:
            refused = Decision(status, None, "not a driver's token nor in [ocpp] id_tokens")
            await self._drivers.audit(token.kind[:16], token.value, now, "ocpp", None, refused)
        return status


def _driver_form(token: IdToken) -> str | None:
    """The token as drivers' tokens are stored, or None when no driver's token can
    look like it (another kind, or not of its kind's form: the allow list may still
    know it, as it takes any text)."""
    if token.kind not in TOKEN_TYPES:
        return None
    try:
        return normalised(token.kind, token.value)
    except TokenError:
        return None
