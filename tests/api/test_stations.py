"""OCPP stations in the API: what the store holds of them, as documented; remote
operations need an OCPP site."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_openapi import check
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.records import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    TransactionEventRecorded,
)
from v2g.session import PowerMeasured, SessionStarted

from .conftest import T0


def transaction_event(seq_no: int, kind: str) -> TransactionEventRecorded:
    return TransactionEventRecorded(
        station_id="CS-1",
        transaction_id="tx-1",
        session_id="CS-1/tx-1",
        ocpp_evse=1,
        evse_id="evse-c",
        seq_no=seq_no,
        event_type=kind,
        trigger_reason="CablePluggedIn",
        at=T0 + timedelta(seconds=seq_no),
        offline=seq_no == 1,
        id_token="tok",
        stopped_reason=None,
        received_at=T0 + timedelta(seconds=seq_no),
    )


async def test_stations_transactions_and_meter_values_read_as_documented(api) -> None:
    await api.services.stations.record(
        [
            StationConnected("CS-1", OcppVersion.V21, T0),
            StationBooted("CS-1", T0, "PowerUp", "v2g", "secc", "SN", "1", ((1, "evse-c"),)),
            ConnectorStatusChanged("CS-1", 1, 1, "Occupied", T0, T0),
            transaction_event(0, "Started"),
            transaction_event(1, "Updated"),
        ]
    )
    await api.services.sessions.record(SessionStarted("evse-c", "CS-1/tx-1", T0, "tok", "ocpp2.1"))
    await api.services.sessions.record(PowerMeasured("evse-c", "CS-1/tx-1", T0, 7400.0, 41.0))
    status, body = await check(api, "GET", "/api/v1/stations", "viewer")
    assert status == 200
    assert [(s["station_id"], s["online"]) for s in body["stations"]] == [("CS-1", True)]
    template = "/api/v1/stations/{station_id}"
    status, body = await check(api, "GET", template, "viewer", concrete="/api/v1/stations/CS-1")
    assert status == 200
    assert body["evses"][0]["connectors"][0]["status"] == "Occupied"
    assert [t["transaction_id"] for t in body["open_transactions"]] == ["tx-1"]
    assert body["status_history"][0]["status"] == "Occupied"
    status, body = await check(
        api,
        "GET",
        "/api/v1/stations/{station_id}/transactions",
        "viewer",
        concrete="/api/v1/stations/CS-1/transactions",
    )
    assert status == 200 and body["transactions"][0]["events"] == 2
    status, body = await check(
        api,
        "GET",
        "/api/v1/stations/{station_id}/transactions/{transaction_id}",
        "viewer",
        concrete="/api/v1/stations/CS-1/transactions/tx-1",
    )
    assert status == 200
    assert [(e["seq_no"], e["offline"]) for e in body["transaction_events"]] == [
        (0, False),
        (1, True),
    ]
    assert body["meter_values"][0]["power_w"] == 7400.0
    for missing in ("/api/v1/stations/CS-9", "/api/v1/stations/CS-1/transactions/tx-9"):
        assert (await api.client.get(missing, headers=api.auth("viewer"))).status == 404


async def test_a_remote_operation_without_ocpp_in_the_site_is_not_found_and_viewers_may_not(
    api,
) -> None:
    url = "/api/v1/stations/CS-1/operations"
    body = {"operation": "reset", "type": "OnIdle"}
    response = await api.client.post(url, json=body, headers=api.auth("viewer"))
    assert response.status == 403
    status, _ = await check(
        api,
        "POST",
        "/api/v1/stations/{station_id}/operations",
        "operator",
        json=body,
        concrete=url,
    )
    assert status == 404
