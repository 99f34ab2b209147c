"""Facts about a charging session, as the SECC reports them to whoever listens.

Events are version-free: DIN SPEC 70121, ISO 15118-2 and -20 data are translated
into these types at the SECC's edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from v2g.session.needs import ChargeNeeds
from v2g.session.transfer_limits import TransferLimits


@dataclass(frozen=True, slots=True)
class SessionStarted:
    """An EV opened a session (SessionSetup) at an EVSE."""

    evse_id: str
    session_id: str
    at: datetime
    ev_id: str | None
    protocol: str


@dataclass(frozen=True, slots=True)
class NeedsReported:
    """The EV reported (new) needs: energy requests, SoC, departure."""

    evse_id: str
    session_id: str
    at: datetime
    needs: ChargeNeeds


@dataclass(frozen=True, slots=True)
class LimitsReported:
    """The EV reported its transfer limits for this session."""

    evse_id: str
    session_id: str
    at: datetime
    ev_limits: TransferLimits


@dataclass(frozen=True, slots=True)
class PowerMeasured:
    """Power at the EVSE in W (+ = charging), measured during the charge loop."""

    evse_id: str
    session_id: str
    at: datetime
    power_w: float
    soc_percent: float | None = None


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session is over (SessionStop, error, timeout or unplug)."""

    evse_id: str
    session_id: str
    at: datetime
    reason: str


SessionEvent = SessionStarted | NeedsReported | LimitsReported | PowerMeasured | SessionEnded
