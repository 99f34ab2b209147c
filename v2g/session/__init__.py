"""Charging sessions in domain terms: needs, limits, setpoints, schedules and events.

Pure and synchronous: no protocol versions, no I/O, ``now`` is always an argument.
"""

from v2g.session.events import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
)
from v2g.session.needs import ChargeNeeds, InvalidSessionData
from v2g.session.schedule import PowerSchedule, PowerSlot, schedule_from_setpoint
from v2g.session.setpoint import Setpoint, power_to_apply, safe_fallback
from v2g.session.transfer_limits import DischargeLimits, TransferLimits

__all__ = [
    "ChargeNeeds",
    "DischargeLimits",
    "InvalidSessionData",
    "LimitsReported",
    "NeedsReported",
    "PowerMeasured",
    "PowerSchedule",
    "PowerSlot",
    "SessionEnded",
    "SessionEvent",
    "SessionStarted",
    "Setpoint",
    "TransferLimits",
    "power_to_apply",
    "safe_fallback",
    "schedule_from_setpoint",
]
