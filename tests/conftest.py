"""Shared test fixtures, and the hypothesis profile CI uses."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from hypothesis import settings

from v2g.testing import FakeClock, FakeMonotonic

# CI runs the property tests on a fixed set of examples (HYPOTHESIS_PROFILE=ci in
# .ci/run), so a red build always means a change, never a lucky draw; runs elsewhere
# keep exploring new examples.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()
