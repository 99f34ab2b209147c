"""A test PKI per profile, issued once per test session at a fixed time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pki.profiles import PROFILES
from pki.testpki import TestPki, build_test_pki

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def iso2_pki() -> TestPki:
    return build_test_pki(PROFILES["iso2"], T0, evse_id="DE*V2G*E0001", emaid="DE-V2G-C12345678-9")


@pytest.fixture(scope="session")
def iso20_pki() -> TestPki:
    return build_test_pki(PROFILES["iso20"], T0, evse_id="DE*V2G*E0001")


@pytest.fixture(scope="session")
def iso20_ed448_pki() -> TestPki:
    return build_test_pki(PROFILES["iso20"], T0, key_algorithm="ed448")
