"""Remote operations an operator asks of a station, in the site's words (EVSE ids,
seconds, times with a zone), turned into the OCPP call that does it. Pure: the body
and what the CSMS knows of the site in, one ``OcppCall`` (or every problem) out.

Each operation (``operation`` in the body) and what else its body holds:

- ``reset`` → Reset: ``type`` (Immediate, OnIdle), optional ``evse_id``
- ``clear_charging_profile`` → ClearChargingProfile: optional ``evse_id``,
  ``charging_profile_id``
- ``request_start_transaction`` → RequestStartTransaction: ``evse_id``, ``id_token``,
  optional ``id_token_type``
- ``request_stop_transaction`` → RequestStopTransaction: ``evse_id`` (its open
  transaction) or ``transaction_id``
- ``reserve_now`` → ReserveNow: ``evse_id``, ``id_token``, ``expires_at``, optional
  ``id_token_type``, ``reservation_id``
- ``cancel_reservation`` → CancelReservation: ``reservation_id``
- ``trigger_message`` → TriggerMessage: ``message`` (BootNotification, Heartbeat,
  StatusNotification, TransactionEvent, MeterValues), optional ``evse_id``
- ``get_composite_schedule`` → GetCompositeSchedule: ``evse_id``, ``duration_s``,
  optional ``rate_unit`` (W, A)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from v2g.ocpp.wire import wire_time

OPERATIONS = {
    "reset": "Reset",
    "clear_charging_profile": "ClearChargingProfile",
    "request_start_transaction": "RequestStartTransaction",
    "request_stop_transaction": "RequestStopTransaction",
    "reserve_now": "ReserveNow",
    "cancel_reservation": "CancelReservation",
    "trigger_message": "TriggerMessage",
    "get_composite_schedule": "GetCompositeSchedule",
}
TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "TransactionEvent",
    "MeterValues",
)
ID_TOKEN_TYPES = ("Central", "ISO14443", "ISO15693", "eMAID", "KeyCode", "Local", "MacAddress")
#: OCPP integers are 32-bit signed.
MAX_ID = 2**31 - 1


class OperationError(ValueError):
    """A body that asks for no operation the station could do: every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OcppCall:
    station_id: str
    action: str
    payload: dict[str, Any]


class SiteDirectory(Protocol):
    """What the CSMS knows of the site's OCPP EVSEs."""

    def station_evse(self, evse_id: str) -> tuple[str, int] | None:
        """The station and its evseId holding site EVSE ``evse_id``."""
        ...

    def open_transaction(self, evse_id: str) -> str | None:
        """The transaction id open at site EVSE ``evse_id``."""
        ...


def ocpp_call(
    station_id: str,
    body: dict[str, Any],
    site: SiteDirectory,
    new_id: Callable[[], int],
    now: datetime,
) -> OcppCall:
    """The call that does what ``body`` asks of ``station_id`` (raises OperationError
    naming every problem; ``new_id`` numbers remote starts and reservations)."""
    reading = _Body(station_id, body, site)
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise OperationError([f"operation: one of {', '.join(OPERATIONS)}"])
    build = _BUILDERS[operation]
    payload = build(reading, new_id, now)
    reading.finish()
    return OcppCall(station_id, OPERATIONS[operation], payload)


class _Body:
    """Reads fields of an operation body, collecting problems instead of stopping."""

    def __init__(self, station_id: str, body: dict[str, Any], site: SiteDirectory) -> None:
        self.station_id = station_id
        self.site = site
        self._body = body
        self._read = {"operation"}
        #: The site EVSE id ``evse`` read last.
        self.evse_id = ""
        self.problems: list[str] = []

    def finish(self) -> None:
        self.problems += [f"{k}: unknown field" for k in sorted(set(self._body) - self._read)]
        if self.problems:
            raise OperationError(self.problems)

    def _get(self, key: str, required: bool) -> Any:
        self._read.add(key)
        if key not in self._body and required:
            self.problems.append(f"{key}: required")
        return self._body.get(key)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None and default is not None:
            return default
        if value is not None and value not in choices:
            self.problems.append(f"{key}: one of {', '.join(choices)}")
        return str(value)

    def integer(self, key: str, required: bool, low: int = 0) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_ID:
            self.problems.append(f"{key}: an integer within {low}..{MAX_ID}")
            return None
        return value

    def text(self, key: str, required: bool, max_length: int) -> str | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            self.problems.append(f"{key}: a string of 1..{max_length} characters")
            return None
        return value

    def time(self, key: str) -> datetime | None:
        value = self.text(key, True, 64)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.problems.append(f"{key}: an ISO 8601 time with a zone")
            return None
        return moment

    def evse(self, required: bool) -> int | None:
        """The station's evseId for the body's site ``evse_id``."""
        evse_id = self.text("evse_id", required, 128)
        if evse_id is None:
            return None
        self.evse_id = evse_id
        found = self.site.station_evse(evse_id)
        if found is None or found[0] != self.station_id:
            self.problems.append(f"evse_id: {evse_id} is not an EVSE of station {self.station_id}")
            return None
        return found[1]

    def id_token(self) -> dict[str, str]:
        token = self.text("id_token", True, 36) or ""
        kind = self.choice("id_token_type", ID_TOKEN_TYPES, "Central")
        return {"idToken": token, "type": kind}


def _reset(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": body.choice("type", ("Immediate", "OnIdle"))}
    evse = body.evse(required=False)
    if evse is not None:
        payload["evseId"] = evse
    return payload


def _clear(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    profile_id = body.integer("charging_profile_id", False)
    if profile_id is not None:
        payload["chargingProfileId"] = profile_id
    criteria: dict[str, Any] = {"chargingProfilePurpose": "TxProfile"}
    evse = body.evse(required=False)
    if evse is not None:
        criteria["evseId"] = evse
    if profile_id is None:
        payload["chargingProfileCriteria"] = criteria
    return payload


def _start(body: _Body, new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    evse = body.evse(required=True)
    return {"evseId": evse or 1, "remoteStartId": new_id(), "idToken": body.id_token()}


def _stop(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    transaction_id = body.text("transaction_id", False, 36)
    if transaction_id is None and body.evse(required=True) is not None:
        transaction_id = body.site.open_transaction(body.evse_id)
        if transaction_id is None:
            body.problems.append(f"evse_id: no transaction is open at {body.evse_id}")
    return {"transactionId": transaction_id or ""}


def _reserve(body: _Body, new_id: Callable[[], int], now: datetime) -> dict[str, Any]:
    evse = body.evse(required=True)
    expires_at = body.time("expires_at")
    if expires_at is not None and expires_at <= now:
        body.problems.append("expires_at: must be in the future")
    reservation_id = body.integer("reservation_id", False)
    return {
        "id": new_id() if reservation_id is None else reservation_id,
        "expiryDateTime": wire_time(expires_at or now),
        "idToken": body.id_token(),
        "evseId": evse or 1,
    }


def _cancel(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    return {"reservationId": body.integer("reservation_id", True) or 0}


def _trigger(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    payload: dict[str, Any] = {"requestedMessage": body.choice("message", TRIGGERABLE)}
    evse = body.evse(required=False)
    if evse is not None:
        payload["evse"] = {"id": evse}
    return payload


def _composite(body: _Body, _new_id: Callable[[], int], _now: datetime) -> dict[str, Any]:
    return {
        "duration": body.integer("duration_s", True, low=1) or 1,
        "evseId": body.evse(required=True) or 0,
        "chargingRateUnit": body.choice("rate_unit", ("W", "A"), "W"),
    }


_BUILDERS: dict[str, Callable[[_Body, Callable[[], int], datetime], dict[str, Any]]] = {
    "reset": _reset,
    "clear_charging_profile": _clear,
    "request_start_transaction": _start,
    "request_stop_transaction": _stop,
    "reserve_now": _reserve,
    "cancel_reservation": _cancel,
    "trigger_message": _trigger,
    "get_composite_schedule": _composite,
}
