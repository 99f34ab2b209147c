"""Shared test fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from v2g.testing import FakeClock, FakeMonotonic

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()
