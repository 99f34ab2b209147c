"""The in-process SECC's sessions decided by the site's drivers (``[secc] authorize``).

A charger on its own machine asks the CSMS (``v2g.ocpp.station_authorize``: OCPP
Authorize with the EV's EVCCID as a MacAddress token for EIM, the eMAID for Plug &
Charge). The SECC inside ``v2g serve`` has the drivers at hand, so ``DriverSessions``
implements the same ``Sessions`` seam from the store: the same wrapper guards both, and
a session is refused for the same reasons (unknown, blocked, expired) with the same
audit (``GET /api/v1/authorizations``, door ``secc``). An accepted session is linked to
its driver, so its bill has an owner. At an EVSE that a booking holds now, only the
booking's driver charges (others get NotAtThisTime, audited) and the booking is used.

While the store cannot be read the station's own answer stands: a session never hangs
on it. (A charger whose CSMS is unreachable decides from its local authorization list
instead, DECISIONS.md 93; this SECC has no list: the store is its list.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from v2g.clock import Clock
from v2g.drivers import INVALID, USED, Decision, TokenError, at_booked_evse, holding, normalised
from v2g.store.drivers import SqlDriverStore

if TYPE_CHECKING:
    # Type only: these modules import iso15118 (only a site with an SECC pays for it).
    from v2g.ocpp.station_authorize import AskedFor
    from v2g.secc.station import Station

logger = logging.getLogger(__name__)

DOOR = "secc"


class DriverSessions:
    """The ``Sessions`` of ``StationAuthorization`` for the SECC in this process:
    ``authorize`` answered from the drivers."""

    def __init__(self, drivers: SqlDriverStore, clock: Clock) -> None:
        self._drivers = drivers
        self._clock = clock

    async def authorize(
        self, payload: dict[str, Any], asked_for: AskedFor | None = None
    ) -> dict[str, Any]:
        """An AuthorizeResponse-shaped answer for an Authorize-shaped request (raises
        ConnectionError while the store cannot be read)."""
        token = payload["idToken"]
        kind, value = str(token["type"]), str(token["idToken"])
        evse_id = asked_for.evse_id if asked_for else None
        try:
            decision = await self._decide(kind, value, evse_id)
            if decision.accepted and decision.driver_id and asked_for is not None:
                await self._drivers.link_session(
                    asked_for.session_id, decision.driver_id, "eim", self._clock.now()
                )
        except SQLAlchemyError as error:
            raise ConnectionError(f"driver store unavailable: {error}") from error
        if not decision.accepted:
            logger.warning("EVSE %s: %s token refused: %s", evse_id, kind, decision.reason)
        return {"idTokenInfo": {"status": decision.status}}

    async def _decide(self, kind: str, value: str, evse_id: str | None) -> Decision:
        now = self._clock.now()
        try:
            stored = normalised(kind, value)
        except TokenError as error:
            refused = Decision(INVALID, None, f"not a driver's token: {error}")
            await self._drivers.audit(kind[:16], value, now, DOOR, evse_id, refused)
            return refused
        decision = await self._drivers.authorize(kind, stored, now, DOOR, evse_id)
        if evse_id is None or not decision.accepted:
            return decision
        booking = holding(await self._drivers.open_bookings(evse_id), evse_id, now)
        ruled = at_booked_evse(decision, booking)
        if not ruled.accepted:
            await self._drivers.audit(kind, stored, now, DOOR, evse_id, ruled)
        elif booking is not None:  # the booking's own driver: it is used now
            await self._drivers.set_status(booking.reservation_id, USED)
        return ruled


def authorized_by_drivers(station: Station, drivers: SqlDriverStore, clock: Clock) -> None:
    """``[secc] authorize``: every session of the in-process ``station`` is decided by
    the ``drivers``, through the same guard a charger uses to ask its CSMS."""
    from v2g.ocpp.station_authorize import StationAuthorization

    guard = StationAuthorization(DriverSessions(drivers, clock), asked="site's drivers")
    for runtime in station.evses.values():
        guard.guard(runtime.controller)
