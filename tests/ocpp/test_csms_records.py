"""The CSMS records its stations in a real SQLite store (through the service's writer):
online and offline, connector states, transactions once; after a CSMS restart a
station replaying its queue changes nothing and the fleet hears of the open session."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.ocpp.test_csms import BOOT, NOW, ended, exchange, started
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms
from v2g.ocpp.records import Restored
from v2g.ocpp.station import StationEvse
from v2g.service.ocpp_link import StationRecordWriter
from v2g.session import LimitsReported, PowerMeasured, SessionEvent, SessionStarted
from v2g.store import SqlSessionStore, open_store, sqlite_url
from v2g.store.station_records import SqlStationRecords
from v2g.testing import FakeClock
from v2g.testing.stations import StaticCredentials


class Site:
    """A CSMS on a store; ``restart`` makes a new CSMS process on the same store."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.clock = FakeClock(NOW)
        self.events: list[SessionEvent] = []
        self.session = ClientSession()
        self.server: TestServer | None = None

    async def start(self) -> None:
        self.writer = StationRecordWriter(SqlStationRecords(self.engine))
        await self.writer.start(self.clock.now())
        config = OcppSiteConfig(
            "127.0.0.1", 0, stations={"CS-1": {1: StationEvse("E1", 1, 11000)}}
        )
        self.csms = Csms(
            config,
            StaticCredentials({"CS-1": "secret-1"}),
            self.events.append,
            self.clock,
            records=self.writer,
            history=self.writer.store,
        )
        app = web.Application()
        app.router.add_get("/ocpp/{station_id}", self.csms.handle)
        self.server = TestServer(app)
        await self.server.start_server()

    async def stop(self) -> None:
        await self.csms.close()
        assert self.server is not None
        await self.server.close()
        await self.writer.close()

    async def connect(self) -> ClientWebSocketResponse:
        assert self.server is not None
        auth = base64.b64encode(b"CS-1:secret-1").decode()
        return await self.session.ws_connect(
            self.server.make_url("/ocpp/CS-1"),
            protocols=("ocpp2.1",),
            headers={"Authorization": f"Basic {auth}"},
        )


@pytest.fixture
async def site(tmp_path) -> AsyncIterator[Site]:
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    made = Site(engine)
    await made.start()
    try:
        yield made
    finally:
        await made.stop()
        await made.session.close()
        await engine.dispose()


def metered(transaction_id: str, seq_no: int, power_w: float) -> dict[str, Any]:
    return {
        **started(transaction_id, seq_no),
        "eventType": "Updated",
        "triggerReason": "MeterValuePeriodic",
        "meterValue": [
            {
                "timestamp": "2030-07-01T18:00:10Z",
                "sampledValue": [{"value": power_w, "measurand": "Power.Active.Import"}],
            }
        ],
    }


STATUS = {
    "timestamp": "2030-07-01T18:00:00Z",
    "connectorStatus": "Occupied",
    "evseId": 1,
    "connectorId": 1,
}


async def test_a_station_is_online_with_its_connector_state_and_offline_when_gone(site) -> None:
    socket = await site.connect()
    await exchange(socket, [2, "b", "BootNotification", BOOT])
    await exchange(socket, [2, "s", "StatusNotification", STATUS])
    await site.writer.flush()
    (station,) = await site.writer.store.stations()
    assert station["online"] is True
    assert station["model"] == "M"
    assert station["evses"][0]["evse_id"] == "E1"
    assert station["evses"][0]["connectors"][0]["status"] == "Occupied"
    await socket.close()
    for _ in range(200):  # the server notices the close on its own loop turn
        await site.writer.flush()
        if not (await site.writer.store.stations())[0]["online"]:
            break
        await asyncio.sleep(0.01)
    assert (await site.writer.store.stations())[0]["online"] is False


async def test_a_transaction_replayed_after_a_csms_restart_is_stored_and_folded_once(
    site,
) -> None:
    sessions = SqlSessionStore(site.engine)
    site.events.clear()
    socket = await site.connect()
    for n, frame in enumerate((started("tx-1"), metered("tx-1", 1, 7000))):
        assert await exchange(socket, [2, f"m{n}", "TransactionEvent", frame]) == [3, f"m{n}", {}]
    for event in site.events:
        await sessions.record(event)
    await site.writer.flush()
    await socket.close()
    await site.stop()

    # The CSMS restarts: a new process, the same store.
    site.events.clear()
    await site.start()
    socket = await site.connect()
    # The station's queue goes out again (it never saw the answers), then goes on.
    for n, frame in enumerate((started("tx-1"), metered("tx-1", 1, 7000))):
        assert await exchange(socket, [2, f"r{n}", "TransactionEvent", frame]) == [3, f"r{n}", {}]
    assert await exchange(socket, [2, "m2", "TransactionEvent", metered("tx-1", 2, 6000)])
    assert await exchange(socket, [2, "e", "TransactionEvent", ended("tx-1", 3)])
    for event in site.events:
        await sessions.record(event)
    await site.writer.flush()
    kinds = [type(e) for e in site.events]
    # The fleet hears of the session still open once (from the store), not of the replay.
    assert kinds[:2] == [SessionStarted, LimitsReported]
    assert [e.power_w for e in site.events if isinstance(e, PowerMeasured)] == [6000.0]
    (transaction,) = await site.writer.store.transactions("CS-1")
    assert transaction["events"] == 4
    assert transaction["ended_at"] is not None
    assert [v["power_w"] for v in await sessions.meter_values("CS-1/tx-1")] == [7000.0, 6000.0]
    assert json.dumps(await sessions.session("CS-1/tx-1"), default=str).count("CS-1/tx-1") == 1


class BrokenHistory:
    async def restore(self, station_id: str) -> Restored:
        raise OSError("store away")


async def test_a_station_is_served_even_when_its_history_cannot_be_read(tmp_path) -> None:
    config = OcppSiteConfig("127.0.0.1", 0, stations={"CS-1": {1: StationEvse("E1", 1, 11000)}})
    events: list[SessionEvent] = []
    csms = Csms(
        config,
        StaticCredentials({"CS-1": "secret-1"}),
        events.append,
        FakeClock(NOW),
        history=BrokenHistory(),
    )
    app = web.Application()
    app.router.add_get("/ocpp/{station_id}", csms.handle)
    server = TestServer(app)
    await server.start_server()
    try:
        async with ClientSession() as session:
            auth = base64.b64encode(b"CS-1:secret-1").decode()
            socket = await session.ws_connect(
                server.make_url("/ocpp/CS-1"),
                protocols=("ocpp2.1",),
                headers={"Authorization": f"Basic {auth}"},
            )
            assert (await exchange(socket, [2, "b", "BootNotification", BOOT]))[0] == 3
            assert await exchange(socket, [2, "t", "TransactionEvent", started("tx-1")]) == [
                3,
                "t",
                {},
            ]
            await socket.close()
    finally:
        await csms.close()
        await server.close()
    assert isinstance(events[0], SessionStarted)
