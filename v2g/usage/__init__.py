"""How the chargers are used: per EVSE and per hour of the week, from stored sessions
and their meter values. Pure: records in, a report out (the API reads the store)."""

from v2g.usage.report import (
    EvseUsage,
    HourOfWeekUsage,
    MeterSample,
    SessionSpan,
    UsageReport,
    usage_report,
)

__all__ = [
    "EvseUsage",
    "HourOfWeekUsage",
    "MeterSample",
    "SessionSpan",
    "UsageReport",
    "usage_report",
]
