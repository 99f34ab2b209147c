"""The drivers' tokens sent to each OCPP station as its local authorization list
(OCPP 2.0.1 D01), so a station whose CSMS is away still knows who may charge.

The list holds every token with its status now, by the rule every door uses
(``v2g.drivers.decide``): Accepted (until its end of validity, as
``cacheExpiryDateTime``), Blocked, Expired or Invalid (not valid yet), so the station
refuses a blocked or expired token offline and names why. Each change of the list
(a token added, blocked or past its validity) gives it a new version, counted in
seconds since 2025 and always above the last one, so a restarted ``v2g serve`` never
sends a version it used before with other contents.

A station that boots, and every sweep a station is not known to hold the version,
is asked GetLocalListVersion (D02); a station holding another version gets the whole
list (Full). An unreachable or refusing station keeps what it had and is tried again
at the next sweep.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from v2g.aggregator.cycle import sweeping
from v2g.clock import Clock
from v2g.drivers import ACCEPTED, IdTokenRecord, decide
from v2g.ocpp.csms import CallFailed, Csms, StationOffline
from v2g.ocpp.schemas import PayloadError
from v2g.ocpp.wire import wire_time
from v2g.store.drivers import SqlDriverStore

logger = logging.getLogger(__name__)

#: Versions count seconds from here: a 32-bit OCPP integer until 2093.
_VERSION_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def list_entry(record: IdTokenRecord, driver_blocked: bool, now: datetime) -> dict[str, Any]:
    """One AuthorizationData of the list: the token and its status at ``now``."""
    status = decide(record, driver_blocked, now).status
    info: dict[str, Any] = {"status": status}
    if status == ACCEPTED and record.valid_until is not None:
        info["cacheExpiryDateTime"] = wire_time(record.valid_until)
    return {"idToken": {"idToken": record.value, "type": record.token_type}, "idTokenInfo": info}


class StationLocalLists:
    """Keeps every OCPP station's local list the drivers' tokens (see the module
    docstring)."""

    def __init__(self, drivers: SqlDriverStore, csms: Csms, clock: Clock) -> None:
        self._drivers = drivers
        self._csms = csms
        self._clock = clock
        self.version = 0
        self._fingerprint = ""
        self._entries: list[dict[str, Any]] = []
        # The version each station is known to hold.
        self._held: dict[str, int] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Sweep now (a token changed: stations hear of it at once)."""
        self._wake.set()

    def booted(self, station_id: str) -> None:
        """``station_id`` (re)booted: it may hold another list now; ask it at once."""
        self._held.pop(station_id, None)
        self._wake.set()

    def held(self, station_id: str) -> int | None:
        """The list version ``station_id`` is known to hold."""
        return self._held.get(station_id)

    async def sweep(self) -> None:
        """One pass: the list as the tokens are now, to every station not holding it."""
        now = self._clock.now()
        entries = [list_entry(r, blocked, now) for r, blocked in await self._drivers.all_tokens()]
        fingerprint = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        if fingerprint != self._fingerprint:
            seconds = int((now - _VERSION_EPOCH).total_seconds())
            self.version = max(self.version + 1, seconds)
            self._fingerprint, self._entries = fingerprint, entries
        for station_id in self._csms.config.stations:
            if self._csms.is_online(station_id) and self._held.get(station_id) != self.version:
                await self._bring_up_to_date(station_id)

    async def _bring_up_to_date(self, station_id: str) -> None:
        version = self.version
        full: dict[str, Any] = {"versionNumber": version, "updateType": "Full"}
        if self._entries:
            full["localAuthorizationList"] = self._entries
        try:
            asked = await self._csms.call(station_id, "GetLocalListVersion", {})
            if asked["versionNumber"] != version:
                answer = await self._csms.call(station_id, "SendLocalList", full)
                status = str(answer["status"])
            else:
                status = ACCEPTED
        except (StationOffline, CallFailed, PayloadError) as error:
            status = f"not delivered: {error}"
        except TimeoutError:
            status = "not delivered: no answer"
        if status == ACCEPTED:
            self._held[station_id] = version
            logger.info("station %s holds local list v%d", station_id, version)
        else:
            logger.warning("station %s: local list v%d %s", station_id, version, status)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Sweeps every ``interval_s`` until ``stop`` is set."""
        await sweeping(self.sweep, "sending local lists", interval_s, stop, self._wake)
