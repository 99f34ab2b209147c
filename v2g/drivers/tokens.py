"""Drivers' identification tokens and the one authorization rule every door uses: the
SECC's EIM path, OCPP ``Authorize`` and Plug & Charge (a contract's eMAID must
belong to a known driver).

Statuses are OCPP's ``AuthorizationStatusEnumType`` words, so a decision passes to a
station unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

ACCEPTED, BLOCKED, EXPIRED, INVALID, UNKNOWN = (
    "Accepted",
    "Blocked",
    "Expired",
    "Invalid",
    "Unknown",
)

#: ISO 14443 RFID UIDs (4, 7 or 10 bytes), an app's or back office's central token, a
#: Plug & Charge contract's eMAID (ISO 15118-2 Annex H: 14 or 15 characters without
#: separators), a vehicle's EVCCID as OCPP's MacAddress (EIM by the car itself). The
#: names are OCPP's IdTokenEnumType words.
TOKEN_TYPES = ("ISO14443", "Central", "eMAID", "MacAddress")
_MAC = re.compile(r"^[0-9A-F]{12}$")
_UID = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
_EMAID = re.compile(r"^[A-Z]{2}[0-9A-Z]{3}[0-9A-Z]{9}[0-9A-Z]?$")
_CENTRAL = re.compile(r"^[\x21-\x7e]{1,36}$")
_DRIVER_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class TokenError(ValueError):
    """A token or driver id that cannot be: the message names the field."""


def driver_id_of(value: object) -> str:
    if not isinstance(value, str) or not _DRIVER_ID.match(value):
        raise TokenError(f"driver_id: 1..64 of A-Z a-z 0-9 . _ -, got {str(value)[:70]!r}")
    return value


def normalised(token_type: str, value: str) -> str:
    """``value`` as stored and compared: RFID UIDs and eMAIDs upper case, eMAIDs
    without their separators; refuses what the type cannot be."""
    if token_type not in TOKEN_TYPES:
        raise TokenError(f"type: one of {', '.join(TOKEN_TYPES)}, got {token_type[:40]!r}")
    if token_type == "ISO14443":
        uid = value.upper().replace(":", "")
        if not _UID.match(uid):
            raise TokenError(
                f"value: an ISO 14443 UID of 4, 7 or 10 bytes in hex, got {value[:40]!r}"
            )
        return uid
    if token_type == "eMAID":
        emaid = value.upper().replace("-", "")
        if not _EMAID.match(emaid):
            raise TokenError(
                f"value: an eMAID like DE8AAC12345678 (ISO 15118-2 H.1), got {value[:40]!r}"
            )
        return emaid
    if token_type == "MacAddress":
        mac = value.upper().replace(":", "").replace("-", "")
        if not _MAC.match(mac):
            raise TokenError(f"value: a MAC address of 6 bytes in hex, got {value[:40]!r}")
        return mac
    if not _CENTRAL.match(value):
        raise TokenError(f"value: 1..36 printable characters, got {value[:40]!r}")
    return value


@dataclass(frozen=True, slots=True)
class IdTokenRecord:
    token_type: str
    value: str
    driver_id: str
    valid_from: datetime
    valid_until: datetime | None = None
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a token may charge now, whose it is, and why (for the refusal audit)."""

    status: str
    driver_id: str | None
    reason: str

    @property
    def accepted(self) -> bool:
        return self.status == ACCEPTED


def decide(record: IdTokenRecord | None, driver_blocked: bool, at: datetime) -> Decision:
    """The authorization of a presented token at ``at``."""
    if record is None:
        return Decision(UNKNOWN, None, "token unknown: no driver holds it")
    owner = record.driver_id
    if record.blocked:
        return Decision(BLOCKED, owner, f"token blocked (driver {owner})")
    if driver_blocked:
        return Decision(BLOCKED, owner, f"driver {owner} blocked")
    if at < record.valid_from:
        return Decision(INVALID, owner, f"token valid from {record.valid_from.isoformat()}")
    if record.valid_until is not None and at >= record.valid_until:
        return Decision(EXPIRED, owner, f"token expired at {record.valid_until.isoformat()}")
    return Decision(ACCEPTED, owner, f"driver {owner}")
