"""The station side of the CSMS's remote operations: what ``v2g secc`` answers to
Reset, ClearChargingProfile, RequestStart/StopTransaction, ReserveNow,
CancelReservation, TriggerMessage and GetCompositeSchedule, and what it then does.

Pure: the checked request, what the station holds now (``StationView``) and ``now``
in; the answer and the effects to carry out after answering out
(``ChargingStationLink`` carries them out). Nothing here waits or sends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.wire import timestamp, wire_time
from v2g.session import Setpoint

ACTIONS = (
    "Reset",
    "ClearChargingProfile",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "CancelReservation",
    "TriggerMessage",
    "GetCompositeSchedule",
)


@dataclass(frozen=True, slots=True)
class EvseView:
    """One EVSE as the station holds it now: its session and the profile it runs."""

    number: int
    evse_id: str
    session_id: str | None = None
    #: The setpoint the running session may apply now (None: none or expired).
    setpoint: Setpoint | None = None
    #: The id of the charging profile in its mailbox (None: none received).
    profile_id: int | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    reservation_id: int
    number: int
    id_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RemoteStart:
    """A RequestStartTransaction waiting for the EV: the next session at the EVSE is
    its transaction (triggerReason RemoteStart, with its remoteStartId and idToken)."""

    remote_start_id: int
    id_token: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StationView:
    version: OcppVersion
    evses: Mapping[int, EvseView]
    reservations: Mapping[int, Reservation] = field(default_factory=dict)

    def reservation_at(self, number: int, now: datetime) -> Reservation | None:
        return next(
            (r for r in self.reservations.values() if r.number == number and r.expires_at > now),
            None,
        )


# -- effects: what the station does once it has answered --------------------------


@dataclass(frozen=True, slots=True)
class ClearProfile:
    evse_id: str


@dataclass(frozen=True, slots=True)
class StopSession:
    """End the ISO 15118 session through the mailbox's stop path."""

    evse_id: str
    session_id: str


@dataclass(frozen=True, slots=True)
class SendMessage:
    """A message the CSMS triggered; ``number`` None: every EVSE (or the station)."""

    action: str
    number: int | None = None


@dataclass(frozen=True, slots=True)
class Reboot:
    """Close the connection and boot again (reason RemoteReset)."""


@dataclass(frozen=True, slots=True)
class RebootWhenIdle:
    """Reboot as soon as no session runs (Reset OnIdle while charging)."""


@dataclass(frozen=True, slots=True)
class Reserve:
    reservation: Reservation


@dataclass(frozen=True, slots=True)
class Unreserve:
    reservation_id: int


@dataclass(frozen=True, slots=True)
class AwaitStart:
    number: int
    start: RemoteStart


Effect = (
    ClearProfile
    | StopSession
    | SendMessage
    | Reboot
    | RebootWhenIdle
    | Reserve
    | Unreserve
    | AwaitStart
)


@dataclass(frozen=True, slots=True)
class Decision:
    answer: dict[str, Any]
    effects: tuple[Effect, ...] = ()


def decide(action: str, payload: dict[str, Any], station: StationView, now: datetime) -> Decision:
    """The answer to a schema-checked request ``action`` and what follows it."""
    return _DECIDERS[action](payload, station, now)


def _status(status: str, reason: str | None = None, code: str = "InvalidValue") -> dict[str, Any]:
    answer: dict[str, Any] = {"status": status}
    if reason is not None:
        answer["statusInfo"] = {"reasonCode": code, "additionalInfo": reason[:500]}
    return answer


def _sessions(station: StationView, number: int | None) -> list[EvseView]:
    return [
        e
        for e in station.evses.values()
        if e.session_id is not None and (number is None or e.number == number)
    ]


def _reset(payload: dict[str, Any], station: StationView, _now: datetime) -> Decision:
    number = payload.get("evseId")
    if number is not None and number not in station.evses:
        return Decision(_status("Rejected", f"no evse {number}"))
    running = _sessions(station, number)
    if payload["type"] == "OnIdle" and running:
        # OCPP 2.0.1 B12.FR.01/B11: reset once the transactions have ended.
        return Decision(_status("Scheduled"), (RebootWhenIdle(),) if number is None else ())
    stops = tuple(StopSession(e.evse_id, e.session_id or "") for e in running)
    return Decision(_status("Accepted"), (*stops, Reboot()) if number is None else stops)


def _clear(payload: dict[str, Any], station: StationView, _now: datetime) -> Decision:
    wanted_id = payload.get("chargingProfileId")
    criteria = payload.get("chargingProfileCriteria", {})
    purpose = criteria.get("chargingProfilePurpose", "TxProfile")
    number = criteria.get("evseId")
    cleared = tuple(
        ClearProfile(e.evse_id)
        for e in station.evses.values()
        if e.profile_id is not None
        and purpose == "TxProfile"
        and (wanted_id is None or e.profile_id == wanted_id)
        and (number in (None, 0) or e.number == number)
    )
    return Decision(_status("Accepted" if cleared else "Unknown"), cleared)


def _start(payload: dict[str, Any], station: StationView, now: datetime) -> Decision:
    number = payload.get("evseId")
    if number is None or number not in station.evses:
        return Decision(_status("Rejected", "name one evse of this station"))
    evse = station.evses[number]
    token = payload["idToken"]
    if evse.session_id is not None:
        # F01.FR.?: the EV plugged in first; the CSMS learns the running transaction.
        return Decision({"status": "Accepted", "transactionId": evse.session_id[:36]})
    reserved = station.reservation_at(number, now)
    if reserved is not None and reserved.id_token != token["idToken"]:
        return Decision(_status("Rejected", f"evse {number} is reserved for another token"))
    start = RemoteStart(payload["remoteStartId"], token)
    return Decision(_status("Accepted"), (AwaitStart(number, start),))


def _stop(payload: dict[str, Any], station: StationView, _now: datetime) -> Decision:
    wanted = payload["transactionId"]
    for evse in station.evses.values():
        if evse.session_id is not None and evse.session_id[:36] == wanted:
            return Decision(_status("Accepted"), (StopSession(evse.evse_id, evse.session_id),))
    return Decision(_status("Rejected", f"no transaction {wanted} runs here", "NoTransaction"))


def _reserve(payload: dict[str, Any], station: StationView, now: datetime) -> Decision:
    number = payload.get("evseId")
    if number is None or number not in station.evses:
        # Reservations of "any EVSE" (no evseId) or of connector types are not offered.
        return Decision(_status("Rejected", "name one evse of this station"))
    expires_at = timestamp(payload["expiryDateTime"], "expiryDateTime")
    if expires_at <= now:
        return Decision(_status("Rejected", "expiryDateTime has passed"))
    held = station.reservation_at(number, now)
    if station.evses[number].session_id is not None or (
        held is not None and held.reservation_id != payload["id"]
    ):
        return Decision(_status("Occupied"))
    reservation = Reservation(payload["id"], number, payload["idToken"]["idToken"], expires_at)
    return Decision(_status("Accepted"), (Reserve(reservation),))


def _cancel(payload: dict[str, Any], station: StationView, _now: datetime) -> Decision:
    reservation_id = payload["reservationId"]
    if reservation_id not in station.reservations:
        return Decision(_status("Rejected", f"no reservation {reservation_id}"))
    return Decision(_status("Accepted"), (Unreserve(reservation_id),))


_TRIGGERS = ("BootNotification", "Heartbeat", "StatusNotification", "TransactionEvent")


def _trigger(payload: dict[str, Any], station: StationView, _now: datetime) -> Decision:
    message = payload["requestedMessage"]
    number = payload.get("evse", {}).get("id")
    if message not in _TRIGGERS:
        return Decision(_status("NotImplemented"))
    if number is not None and number not in station.evses:
        return Decision(_status("Rejected", f"no evse {number}"))
    if message == "TransactionEvent" and not _sessions(station, number):
        return Decision(_status("Rejected", "no transaction is running", "NoTransaction"))
    return Decision(_status("Accepted"), (SendMessage(message, number),))


def _composite(payload: dict[str, Any], station: StationView, now: datetime) -> Decision:
    number = payload["evseId"]
    if number != 0 and number not in station.evses:
        return Decision(_status("Rejected", f"no evse {number}"))
    if payload.get("chargingRateUnit", "W") != "W":
        return Decision(_status("Rejected", "this station schedules in W only"))
    duration_s = payload["duration"]
    evses = list(station.evses.values()) if number == 0 else [station.evses[number]]
    periods = _periods(evses, now, duration_s, station.version)
    schedule = {
        "evseId": number,
        "duration": duration_s,
        "scheduleStart": wire_time(now),
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": periods,
    }
    return Decision({"status": "Accepted", "schedule": schedule})


def _periods(
    evses: list[EvseView], now: datetime, duration_s: int, version: OcppVersion
) -> list[dict[str, Any]]:
    """The sum of the EVSEs' setpoints from ``now``: each runs until it expires, then
    the station's fallback, which never discharges (shown as 0 W: no planned power)."""
    ends = sorted(
        {
            math.ceil((e.setpoint.valid_until - now).total_seconds())
            for e in evses
            if e.setpoint is not None
        }
        | {0}
    )
    periods = []
    for start_s in (s for s in ends if s < duration_s):
        power_w = sum(
            e.setpoint.power_w
            for e in evses
            if e.setpoint is not None and (e.setpoint.valid_until - now).total_seconds() > start_s
        )
        # As SetChargingProfile has it: 2.1 a signed setpoint, 2.0.1 a charge limit.
        period: dict[str, Any] = {"startPeriod": start_s}
        if version is OcppVersion.V21:
            period |= {"operationMode": "CentralSetpoint", "setpoint": round(power_w, 1)}
        else:
            period["limit"] = round(max(0.0, power_w), 1)
        periods.append(period)
    return periods


_DECIDERS = {
    "Reset": _reset,
    "ClearChargingProfile": _clear,
    "RequestStartTransaction": _start,
    "RequestStopTransaction": _stop,
    "ReserveNow": _reserve,
    "CancelReservation": _cancel,
    "TriggerMessage": _trigger,
    "GetCompositeSchedule": _composite,
}
