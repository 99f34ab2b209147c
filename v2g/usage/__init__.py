"""How the chargers are used: per EVSE and per hour of the week, from stored sessions
and their meter values. Pure: records in, a report out (the API reads the store)."""

from v2g.usage.report import (
    IDLE_BELOW_W,
    EvseUsage,
    HourOfWeekUsage,
    MeterSample,
    SessionSpan,
    UsageReport,
    power_steps,
    usage_report,
)

__all__ = [
    "IDLE_BELOW_W",
    "EvseUsage",
    "HourOfWeekUsage",
    "MeterSample",
    "SessionSpan",
    "UsageReport",
    "power_steps",
    "usage_report",
]
