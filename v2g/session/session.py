"""A charging session as the product sees it, folded from session events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from v2g.session.events import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
)
from v2g.session.needs import ChargeNeeds
from v2g.session.transfer_limits import TransferLimits


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """One vehicle's visit to one EVSE, from SessionSetup to SessionStop.

    ``protocol`` names the negotiated protocol and service as the product's
    commands do (``din-dc``, ``iso2-ac``, ``iso20-dc-bpt`` ...).
    """

    evse_id: str
    session_id: str
    protocol: str
    started_at: datetime
    ev_id: str | None = None
    needs: ChargeNeeds | None = None
    ev_limits: TransferLimits | None = None
    present_power_w: float = 0.0
    ended_at: datetime | None = None
    end_reason: str | None = None

    @classmethod
    def start(cls, event: SessionStarted) -> ChargingSession:
        return cls(event.evse_id, event.session_id, event.protocol, event.at, event.ev_id)

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def apply(self, event: SessionEvent) -> ChargingSession:
        """This session after ``event``; events of other sessions change nothing."""
        if event.session_id != self.session_id or event.evse_id != self.evse_id:
            return self
        match event:
            case SessionStarted():
                return replace(self, protocol=event.protocol, ev_id=event.ev_id)
            case NeedsReported():
                return replace(self, needs=event.needs)
            case LimitsReported():
                return replace(self, ev_limits=event.ev_limits)
            case PowerMeasured():
                return replace(self, present_power_w=event.power_w)
            case SessionEnded():
                return replace(
                    self, present_power_w=0.0, ended_at=event.at, end_reason=event.reason
                )
        return self  # pragma: no cover - exhaustive match above
