"""The per-EVSE setpoint mailbox: the aggregator writes, the SECC reads, nobody waits.

ISO 15118 gives the charger 25 ms (DIN/-2 CurrentDemand) to answer, so the SECC
never asks the planner for a value; it answers from the latest setpoint posted here.
Writing replaces one reference, which is atomic in CPython, so a writer on another
thread needs no lock.
"""

from __future__ import annotations

from v2g.session import Setpoint


class SetpointMailbox:
    """Holds the latest setpoint for one EVSE (or none)."""

    def __init__(self) -> None:
        self._latest: Setpoint | None = None

    def post(self, setpoint: Setpoint) -> None:
        """Replace the setpoint; the next response to the EV reflects it."""
        self._latest = setpoint

    def clear(self) -> None:
        self._latest = None

    def read(self) -> Setpoint | None:
        return self._latest
