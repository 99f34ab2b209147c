"""The per-EVSE setpoint mailbox: the aggregator writes, the SECC reads, nobody waits.

ISO 15118 gives the charger 25 ms (DIN/-2 CurrentDemand) to answer, so the SECC
never asks the planner for a value; it answers from the latest setpoint posted here.
Writing replaces one reference, which is atomic in CPython, so a writer on another
thread needs no lock.

Two guards keep a setpoint from acting where it was not meant to:

* it is handed only to the session it was planned for (``Setpoint.session_id``), so a
  discharge planned for vehicle A never reaches vehicle B at the same EVSE;
* its lifetime is measured on the monotonic clock from the moment it was posted, so a
  wall clock that steps back (NTP, an operator) cannot revive an expired setpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from v2g.clock import Clock, SystemClock
from v2g.session import Setpoint


@dataclass(frozen=True, slots=True)
class _Posted:
    """A setpoint and the monotonic second (s) at which it expires."""

    setpoint: Setpoint
    expires_at_s: float


class SetpointMailbox:
    """Holds the latest setpoint for one EVSE (or none)."""

    def __init__(
        self, clock: Clock | None = None, monotonic_s: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock or SystemClock()
        self._monotonic_s = monotonic_s
        self._latest: _Posted | None = None
        self._stop_session: str | None = None

    def post(self, setpoint: Setpoint) -> None:
        """Replace the setpoint; the next response to its session reflects it. Its
        lifetime (``valid_until`` - now) starts counting on the monotonic clock now."""
        lifetime_s = (setpoint.valid_until - self._clock.now()).total_seconds()
        self._latest = _Posted(setpoint, self._monotonic_s() + lifetime_s)

    def clear(self) -> None:
        self._latest = None

    def request_stop(self, session_id: str) -> None:
        """Ask session ``session_id`` to end (an OCPP RequestStopTransaction or Reset):
        the SECC tells the EV at its next answer and plans nothing more for it."""
        self._stop_session = session_id
        self._latest = None

    def stop_requested(self, session_id: str | None) -> bool:
        """True when session ``session_id`` was asked to end (never for another one)."""
        return session_id is not None and session_id == self._stop_session

    def read(self) -> Setpoint | None:
        """The latest setpoint as posted, whatever its session or age."""
        posted = self._latest
        return posted.setpoint if posted else None

    def read_for(self, session_id: str | None, now: datetime) -> Setpoint | None:
        """The setpoint session ``session_id`` may apply at wall-clock ``now``: None
        unless it was planned for that session; its ``valid_until`` shortened to what
        the monotonic clock leaves of its lifetime (stale once that has run out, even
        if the wall clock went back)."""
        posted = self._latest
        if posted is None or session_id is None or posted.setpoint.session_id != session_id:
            return None
        left_s = posted.expires_at_s - self._monotonic_s()
        try:
            valid_until = min(posted.setpoint.valid_until, now + timedelta(seconds=left_s))
        except OverflowError:  # a wall clock near datetime's end: keep the posted bound
            valid_until = posted.setpoint.valid_until
        return replace(posted.setpoint, valid_until=valid_until)
