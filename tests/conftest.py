"""Shared test fixtures; the hypothesis profiles (``tests/properties.py``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.properties import register_profiles
from v2g.testing import FakeClock, FakeMonotonic

# ci: a fixed set of examples (.ci/run); nightly: many random ones (scripts/nightly).
register_profiles()

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()
