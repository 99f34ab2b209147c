"""The CSMS edge in process (aiohttp's WebSocket client as the station, a fake clock):
repeated ids, reboots, new transactions and failures of our own."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSServerHandshakeError, web
from aiohttp.test_utils import TestServer

from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms
from v2g.ocpp.station import StationEvse
from v2g.session import SessionEvent, SessionStarted, Setpoint
from v2g.testing import FakeClock
from v2g.testing.stations import StaticCredentials

NOW = datetime(2030, 7, 1, 18, 0, tzinfo=UTC)


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock(NOW)
        self.events: list[SessionEvent] = []
        config = OcppSiteConfig(
            "127.0.0.1", 0, stations={"CS-1": {1: StationEvse("E1", 1, 11000)}}
        )
        self.csms = Csms(
            config,
            StaticCredentials({"CS-1": "secret-1", "CS-2": "secret-2"}),
            self.events.append,
            self.clock,
        )
        app = web.Application()
        app.router.add_get("/ocpp/{station_id}", self.csms.handle)
        self.server = TestServer(app)
        self.session = ClientSession()

    async def connect(
        self, station_id: str = "CS-1", password: str = "secret-1", protocol: str = "ocpp2.1"
    ) -> ClientWebSocketResponse:
        auth = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        return await self.session.ws_connect(
            self.server.make_url(f"/ocpp/{station_id}"),
            protocols=(protocol,),
            headers={"Authorization": f"Basic {auth}"},
        )


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    made = Harness()
    await made.server.start_server()
    try:
        yield made
    finally:
        await made.session.close()
        await made.csms.close()
        await made.server.close()


async def exchange(socket: ClientWebSocketResponse, frame: list[Any]) -> list[Any]:
    await socket.send_str(json.dumps(frame))
    return list(json.loads(await socket.receive_str(timeout=5)))


def started(transaction_id: str, seq_no: int = 0) -> dict[str, Any]:
    return {
        "eventType": "Started",
        "timestamp": "2030-07-01T18:00:00Z",
        "triggerReason": "CablePluggedIn",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id},
        "evse": {"id": 1},
    }


def ended(transaction_id: str, seq_no: int) -> dict[str, Any]:
    return {**started(transaction_id, seq_no), "eventType": "Ended", "triggerReason": "EVDeparted"}


BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


async def test_a_repeated_call_is_answered_alike_and_folded_once(harness: Harness) -> None:
    socket = await harness.connect()
    frame = [2, "a", "TransactionEvent", started("tx-1")]
    assert await exchange(socket, frame) == [3, "a", {}]
    assert await exchange(socket, frame) == [3, "a", {}]
    assert [type(e) for e in harness.events].count(SessionStarted) == 1


async def test_after_a_reboot_a_station_may_count_its_ids_from_the_start(harness: Harness) -> None:
    socket = await harness.connect()
    assert (await exchange(socket, [2, "1", "Heartbeat", {}]))[0] == 3
    assert (await exchange(socket, [2, "1", "StatusNotification", {}]))[:3] == [
        4,
        "1",
        "RpcFrameworkError",
    ]
    assert (await exchange(socket, [2, "0", "BootNotification", BOOT]))[0] == 3
    answer = await exchange(socket, [2, "1", "TransactionEvent", started("tx-1")])
    assert answer == [3, "1", {}]


async def test_a_known_action_this_csms_does_not_handle_is_not_supported(harness: Harness) -> None:
    socket = await harness.connect()
    firmware = {"status": "Idle"}
    answer = await exchange(socket, [2, "z", "FirmwareStatusNotification", firmware])
    assert answer[:3] == [4, "z", "NotSupported"]


async def test_each_transaction_gets_its_own_first_profile_whatever_the_deadband(
    harness: Harness,
) -> None:
    socket = await harness.connect()
    setpoint = Setpoint.from_source(4000, NOW + timedelta(minutes=30), "plan")
    profiles = []
    for n, transaction_id in enumerate(("tx-1", "tx-2")):
        await exchange(socket, [2, f"s{n}", "TransactionEvent", started(transaction_id)])
        harness.csms.post("E1", setpoint)
        harness.csms.post("E1", setpoint)  # unchanged: not sent again
        call = json.loads(await socket.receive_str(timeout=5))
        assert call[2] == "SetChargingProfile"
        await socket.send_str(json.dumps([3, call[1], {"status": "Accepted"}]))
        profiles.append(call[3]["chargingProfile"]["transactionId"])
        await exchange(socket, [2, f"e{n}", "TransactionEvent", ended(transaction_id, 1)])
    assert profiles == ["tx-1", "tx-2"]


async def test_a_refused_profile_is_sent_again_at_the_next_cycle(harness: Harness) -> None:
    socket = await harness.connect()
    await exchange(socket, [2, "s", "TransactionEvent", started("tx-1")])
    setpoint = Setpoint.from_source(-3000, NOW + timedelta(minutes=30), "dr")
    sent = []
    for status in ("Rejected", "Accepted"):
        harness.csms.post("E1", setpoint)
        call = json.loads(await socket.receive_str(timeout=5))
        sent.append(call[3]["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0])
        await socket.send_str(json.dumps([3, call[1], {"status": status}]))
        await harness.csms.settle()
    assert [p["setpoint"] for p in sent] == [-3000, -3000]
    harness.csms.post("E1", setpoint)  # accepted and unchanged: nothing more goes out
    with pytest.raises(TimeoutError):
        await socket.receive_str(timeout=0.3)


async def test_a_wrong_password_or_a_missing_subprotocol_is_refused(harness: Harness) -> None:
    with pytest.raises(WSServerHandshakeError) as raised:
        await harness.connect("CS-1", "secret-2")
    assert raised.value.status == 401
    with pytest.raises(WSServerHandshakeError) as raised:
        await harness.connect("CS-1", "secret-1", protocol="ocpp1.6")
    assert raised.value.status == 400


async def test_a_flooding_station_gets_every_answer_and_slows_no_other_station(
    harness: Harness,
) -> None:
    flooder = await harness.connect("CS-1", "secret-1")
    other = await harness.connect("CS-2", "secret-2", protocol="ocpp2.0.1")
    for n in range(2000):
        await flooder.send_str(json.dumps([2, f"f{n}", "Heartbeat", {}]))
    started = asyncio.get_running_loop().time()
    assert (await exchange(other, [2, "o", "Heartbeat", {}]))[:2] == [3, "o"]
    assert asyncio.get_running_loop().time() - started < 1.0
    answered = {json.loads(await flooder.receive_str(timeout=10))[1] for _ in range(2000)}
    assert answered == {f"f{n}" for n in range(2000)}
