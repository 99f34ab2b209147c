"""Who may charge: one decision for every door (SECC EIM, OCPP Authorize, Plug &
Charge), with OCPP's status words and a reason for the refusal audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from v2g.drivers import IdTokenRecord, TokenError, decide, normalised

T0 = datetime(2026, 7, 1, tzinfo=UTC)
RECORD = IdTokenRecord("ISO14443", "04A1B2C3", "d-1", T0, T0 + timedelta(days=365))


@pytest.mark.parametrize(
    ("record", "driver_blocked", "at", "status", "reason"),
    [
        (RECORD, False, T0 + timedelta(days=1), "Accepted", "driver d-1"),
        (None, False, T0, "Unknown", "no driver holds it"),
        (
            IdTokenRecord("ISO14443", "04A1B2C3", "d-1", T0, blocked=True),
            False,
            T0,
            "Blocked",
            "token blocked",
        ),
        (RECORD, True, T0, "Blocked", "driver d-1 blocked"),
        (RECORD, False, T0 - timedelta(seconds=1), "Invalid", "valid from"),
        (RECORD, False, T0 + timedelta(days=365), "Expired", "expired at"),
    ],
    ids=["valid", "unknown", "token blocked", "driver blocked", "not yet valid", "expired"],
)
def test_a_token_is_decided_with_the_ocpp_status_and_a_reason(
    record, driver_blocked, at, status, reason
):
    decision = decide(record, driver_blocked, at)
    assert decision.status == status and reason in decision.reason
    assert decision.accepted == (status == "Accepted")


@pytest.mark.parametrize(
    ("token_type", "value", "stored"),
    [
        ("ISO14443", "04:a1:b2:c3", "04A1B2C3"),
        ("ISO14443", "04a1b2c3d4e5f6", "04A1B2C3D4E5F6"),
        ("eMAID", "de-8aa-c12345678-9", "DE8AAC123456789"),
        ("eMAID", "DE8AAC12345678", "DE8AAC12345678"),
        ("Central", "app:user-17", "app:user-17"),
    ],
)
def test_tokens_are_stored_as_they_are_compared(token_type, value, stored):
    assert normalised(token_type, value) == stored


@pytest.mark.parametrize(
    ("token_type", "value"),
    [
        ("ISO14443", "04A1B2C3D"),
        ("eMAID", "D8AAC12345678"),
        ("Central", "has space"),
        ("Central", ""),
        ("PIN", "1234"),
    ],
)
def test_a_token_its_type_cannot_be_is_refused(token_type, value):
    with pytest.raises(TokenError):
        normalised(token_type, value)
