"""One charging station as the CSMS knows it: its EVSEs and open transactions, and
the session events its messages amount to. Pure: payloads and ``now`` in, a new
ledger and session events out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.records import Restored
from v2g.ocpp.wire import WireError, charging_needs, readings, timestamp
from v2g.session import (
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TransferLimits,
)

#: Ended transactions remembered per station, so a replayed Ended event changes nothing.
ENDED_MEMORY = 256


@dataclass(frozen=True, slots=True)
class StationEvse:
    """A site EVSE held by a station: its site id, the station's evseId for it and
    its rated charge power in W."""

    evse_id: str
    ocpp_evse: int
    max_charge_power_w: float

    def __post_init__(self) -> None:
        if self.ocpp_evse < 1:
            raise ValueError(f"ocpp_evse counts from 1 (0 is the station), got {self.ocpp_evse}")


@dataclass(frozen=True, slots=True)
class Transaction:
    """An open OCPP transaction: the site session it is, and the seqNos seen."""

    transaction_id: str
    evse: StationEvse
    session_id: str
    seq_nos: frozenset[int] = frozenset()
    #: Last measured power in W (+ = charging), for readings that carry only a SoC.
    power_w: float = 0.0


@dataclass(frozen=True, slots=True)
class StationLedger:
    """What the CSMS holds about one station across its connections."""

    station_id: str
    evses: Mapping[int, StationEvse]
    transactions: Mapping[str, Transaction] = field(default_factory=dict)
    ended: tuple[str, ...] = ()

    def transaction_at(self, evse_id: str) -> Transaction | None:
        """The open transaction at site EVSE ``evse_id``, if any."""
        return next((t for t in self.transactions.values() if t.evse.evse_id == evse_id), None)

    def restored(
        self, restored: Restored, version: OcppVersion
    ) -> tuple[StationLedger, list[SessionEvent]]:
        """The ledger with the store's open transactions and ended ids (after a CSMS
        restart), and the session events that tell the fleet of those still open. An
        open transaction at an EVSE the site no longer has is left out."""
        transactions = dict(self.transactions)
        events: list[SessionEvent] = []
        for found in restored.open:
            evse = self.evses.get(found.ocpp_evse)
            if evse is None or found.transaction_id in transactions:
                continue
            transactions[found.transaction_id] = Transaction(
                found.transaction_id, evse, found.session_id, found.seq_nos
            )
            limits = TransferLimits(max_charge_power_w=evse.max_charge_power_w)
            events += [
                SessionStarted(
                    evse.evse_id, found.session_id, found.started_at, found.id_token, str(version)
                ),
                LimitsReported(evse.evse_id, found.session_id, found.started_at, limits),
            ]
        ended = (*self.ended, *restored.ended)[-ENDED_MEMORY:]
        return replace(self, transactions=transactions, ended=ended), events

    def session_id(self, transaction_id: str) -> str:
        return f"{self.station_id}/{transaction_id}"

    def on_transaction_event(
        self, payload: dict[str, Any], version: OcppVersion
    ) -> tuple[StationLedger, list[SessionEvent]]:
        """The ledger and session events after a TransactionEventRequest. A replay
        (seqNo already seen, or an Ended transaction) changes nothing."""
        info = payload["transactionInfo"]
        transaction_id = info["transactionId"]
        seq_no = payload["seqNo"]
        if transaction_id in self.ended:
            return self, []
        at = timestamp(payload["timestamp"], "timestamp")
        open_tx = self.transactions.get(transaction_id)
        events: list[SessionEvent] = []
        if open_tx is None:
            open_tx, started = self._open(payload, transaction_id, at, version)
            events += started
        elif seq_no in open_tx.seq_nos:
            return self, []
        evse_id, session_id = open_tx.evse.evse_id, open_tx.session_id
        power_w = open_tx.power_w
        for reading in readings(payload.get("meterValue", [])):
            power_w = power_w if reading.power_w is None else reading.power_w
            events.append(
                PowerMeasured(evse_id, session_id, reading.at, power_w, reading.soc_percent)
            )
        transactions = dict(self.transactions)
        ended = self.ended
        if payload["eventType"] == "Ended":
            reason = info.get("stoppedReason", "Local")
            events.append(SessionEnded(evse_id, session_id, at, f"ocpp: {reason}"))
            del transactions[transaction_id]
            ended = (*self.ended, transaction_id)[-ENDED_MEMORY:]
        else:
            transactions[transaction_id] = replace(
                open_tx, seq_nos=open_tx.seq_nos | {seq_no}, power_w=power_w
            )
        return replace(self, transactions=transactions, ended=ended), events

    def _open(
        self, payload: dict[str, Any], transaction_id: str, at: datetime, version: OcppVersion
    ) -> tuple[Transaction, list[SessionEvent]]:
        # OCPP 2.0.1 E01.FR.16: the first TransactionEvent of a transaction names its
        # EVSE; a later one may be the first we see (a CSMS restart), so any may open it.
        wire_evse = payload.get("evse", {}).get("id")
        if wire_evse is None:
            raise WireError(f"transaction {transaction_id} is unknown and names no evse")
        evse = self.evses.get(wire_evse)
        if evse is None:
            raise WireError(f"evse {wire_evse} of station {self.station_id} is not a site charger")
        if self.transaction_at(evse.evse_id) is not None:
            raise WireError(f"evse {wire_evse} already has an open transaction")
        session_id = self.session_id(transaction_id)
        id_token = payload.get("idToken", {}).get("idToken")
        # Until the vehicle says otherwise (NotifyEVChargingNeeds with V2X parameters)
        # it is unidirectional: a plain charger's car must never be asked to discharge.
        default_limits = TransferLimits(max_charge_power_w=evse.max_charge_power_w)
        events: list[SessionEvent] = [
            SessionStarted(evse.evse_id, session_id, at, id_token, str(version)),
            LimitsReported(evse.evse_id, session_id, at, default_limits),
        ]
        return Transaction(transaction_id, evse, session_id), events

    def on_charging_needs(self, payload: dict[str, Any], now: datetime) -> list[SessionEvent]:
        """The session events of a NotifyEVChargingNeedsRequest (raises WireError when
        no transaction is open at its EVSE or the needs cannot be true)."""
        evse = self.evses.get(payload["evseId"])
        if evse is None:
            raise WireError(f"evse {payload['evseId']} of {self.station_id} is not a site charger")
        open_tx = self.transaction_at(evse.evse_id)
        if open_tx is None:
            raise WireError(f"evse {payload['evseId']} has no open transaction")
        reported = charging_needs(payload, now)
        events: list[SessionEvent] = [
            NeedsReported(evse.evse_id, open_tx.session_id, now, reported.needs)
        ]
        if reported.ev_limits is not None:
            events.append(
                LimitsReported(evse.evse_id, open_tx.session_id, now, reported.ev_limits)
            )
        return events
