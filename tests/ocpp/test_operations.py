"""Remote operations at the CSMS: an operator's body becomes one OCPP call or every
problem at once; a call's answer is held to the schema; an offline station is said so."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from tests.ocpp.test_csms import NOW, Harness, exchange, harness, started  # noqa: F401
from v2g.ocpp.csms import CallFailed, StationOffline
from v2g.ocpp.operations import OperationError, ocpp_call


class Site:
    def station_evse(self, evse_id: str) -> tuple[str, int] | None:
        return {"E1": ("CS-1", 1), "E9": ("CS-2", 1)}.get(evse_id)

    def open_transaction(self, evse_id: str) -> str | None:
        return "tx-1" if evse_id == "E1" else None


def call(body: dict[str, object]):
    return ocpp_call("CS-1", body, Site(), lambda: 77, NOW)


def test_an_operation_in_the_sites_words_becomes_its_ocpp_call() -> None:
    stop = call({"operation": "request_stop_transaction", "evse_id": "E1"})
    assert (stop.action, stop.payload) == ("RequestStopTransaction", {"transactionId": "tx-1"})
    reserve = call(
        {
            "operation": "reserve_now",
            "evse_id": "E1",
            "id_token": "A",
            "expires_at": (NOW + timedelta(hours=1)).isoformat(),
        }
    )
    assert reserve.payload["id"] == 77 and reserve.payload["evseId"] == 1
    assert reserve.payload["expiryDateTime"] == "2030-07-01T19:00:00Z"
    clear = call({"operation": "clear_charging_profile"})
    assert clear.payload == {"chargingProfileCriteria": {"chargingProfilePurpose": "TxProfile"}}


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"operation": "fly"}, ["operation: one of"]),
        ({"operation": "reset"}, ["type: required"]),
        ({"operation": "reset", "type": "Soon", "extra": 1}, ["type: one of", "extra: unknown"]),
        (
            {"operation": "request_start_transaction", "evse_id": "E9", "id_token": ""},
            ["evse_id: E9 is not an EVSE of station CS-1", "id_token: a string"],
        ),
        ({"operation": "request_stop_transaction"}, ["evse_id: required"]),
        (
            {"operation": "reserve_now", "evse_id": "E1", "id_token": "A", "expires_at": "x"},
            ["expires_at: an ISO 8601 time"],
        ),
        (
            {
                "operation": "reserve_now",
                "evse_id": "E1",
                "id_token": "A",
                "expires_at": "2030-07-01T17:00:00Z",
            },
            ["expires_at: must be in the future"],
        ),
        ({"operation": "cancel_reservation", "reservation_id": True}, ["reservation_id: an"]),
        (
            {"operation": "get_composite_schedule", "evse_id": "E1", "duration_s": 0},
            ["duration_s"],
        ),
    ],
)
def test_a_body_that_asks_for_nothing_doable_names_every_problem(body, problems) -> None:
    with pytest.raises(OperationError) as raised:
        call(body)
    found = raised.value.problems
    assert len(found) == len(problems), found
    for problem, expected in zip(found, problems, strict=True):
        assert problem.startswith(expected), found


async def test_an_answer_against_the_schema_fails_the_call_and_an_offline_station_says_so(
    harness: Harness,  # noqa: F811
) -> None:
    with pytest.raises(StationOffline):
        await harness.csms.call("CS-1", "Reset", {"type": "OnIdle"})
    socket = await harness.connect()
    await exchange(socket, [2, "s", "TransactionEvent", started("tx-1")])
    pending = asyncio.create_task(harness.csms.call("CS-1", "Reset", {"type": "OnIdle"}))
    request = json.loads(await socket.receive_str(timeout=5))
    assert request[2:] == ["Reset", {"type": "OnIdle"}]
    await socket.send_str(json.dumps([3, request[1], {"status": "Maybe"}]))
    with pytest.raises(CallFailed, match="PropertyConstraintViolation"):
        await pending
    assert harness.csms.open_transaction("E1") == "tx-1"
    assert harness.csms.station_evse("E1") == ("CS-1", 1)
    await socket.close()
