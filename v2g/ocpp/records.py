"""What the CSMS keeps about its stations beyond the sessions the planner sees: each
station's connection and boot, its connectors' status changes and every
TransactionEvent (once). Pure: records are built from checked payloads and written
by whoever subscribes (``v2g serve``: the store, in order, in the background).

``Restored`` is the other direction: what the store says about a station's open and
ended transactions, so a CSMS that restarted still knows which seqNos it has seen and
stores nothing twice when a station replays its queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.wire import timestamp


@dataclass(frozen=True, slots=True)
class StationConnected:
    station_id: str
    version: OcppVersion
    at: datetime


@dataclass(frozen=True, slots=True)
class StationDisconnected:
    station_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class StationBooted:
    """A BootNotification: why the station booted and what it is."""

    station_id: str
    at: datetime
    reason: str
    vendor_name: str
    model: str
    serial_number: str | None
    firmware_version: str | None
    #: The station's EVSEs the site knows: OCPP evseId → site EVSE id.
    evses: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged:
    """A StatusNotification: ``at`` is the station's time, ``received_at`` ours."""

    station_id: str
    ocpp_evse: int
    connector_id: int
    status: str
    at: datetime
    received_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionEventRecorded:
    """A TransactionEvent seen for the first time (a replay makes none)."""

    station_id: str
    transaction_id: str
    session_id: str
    ocpp_evse: int
    evse_id: str
    seq_no: int
    event_type: str
    trigger_reason: str
    at: datetime
    offline: bool
    id_token: str | None
    stopped_reason: str | None
    received_at: datetime


OcppRecord = (
    StationConnected
    | StationDisconnected
    | StationBooted
    | ConnectorStatusChanged
    | TransactionEventRecorded
)

RecordSink = Callable[[OcppRecord], object]


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """A transaction the store holds as open: where it runs, the seqNos seen."""

    transaction_id: str
    ocpp_evse: int
    session_id: str
    started_at: datetime
    id_token: str | None
    seq_nos: frozenset[int]


@dataclass(frozen=True, slots=True)
class Restored:
    """A station's transactions as the store has them."""

    open: tuple[OpenTransaction, ...] = ()
    #: The most recently ended transaction ids, oldest first.
    ended: tuple[str, ...] = ()


class StationHistory(Protocol):
    """Reads back what was recorded about a station (the store)."""

    async def restore(self, station_id: str) -> Restored: ...


def booted(
    station_id: str, payload: dict[str, Any], at: datetime, evses: tuple[tuple[int, str], ...]
) -> StationBooted:
    """The record of a checked BootNotificationRequest."""
    station = payload["chargingStation"]
    return StationBooted(
        station_id,
        at,
        payload["reason"],
        station["vendorName"],
        station["model"],
        station.get("serialNumber"),
        station.get("firmwareVersion"),
        evses,
    )


def status_changed(
    station_id: str, payload: dict[str, Any], received_at: datetime
) -> ConnectorStatusChanged:
    """The record of a checked StatusNotificationRequest (raises WireError for a
    timestamp that is no date)."""
    return ConnectorStatusChanged(
        station_id,
        payload["evseId"],
        payload["connectorId"],
        payload["connectorStatus"],
        timestamp(payload["timestamp"], "timestamp"),
        received_at,
    )


def transaction_recorded(
    station_id: str,
    session_id: str,
    ocpp_evse: int,
    evse_id: str,
    payload: dict[str, Any],
    received_at: datetime,
) -> TransactionEventRecorded:
    """The record of a checked TransactionEventRequest the ledger took in."""
    info = payload["transactionInfo"]
    return TransactionEventRecorded(
        station_id=station_id,
        transaction_id=info["transactionId"],
        session_id=session_id,
        ocpp_evse=ocpp_evse,
        evse_id=evse_id,
        seq_no=payload["seqNo"],
        event_type=payload["eventType"],
        trigger_reason=payload["triggerReason"],
        at=timestamp(payload["timestamp"], "timestamp"),
        offline=bool(payload.get("offline", False)),
        id_token=payload.get("idToken", {}).get("idToken"),
        stopped_reason=info.get("stoppedReason"),
        received_at=received_at,
    )
