"""Times read back from the store are aware UTC datetimes on every back end."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(moment: datetime) -> datetime:
    """``moment`` with its zone: SQLite hands back naive datetimes for
    ``DateTime(timezone=True)`` columns, which were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
