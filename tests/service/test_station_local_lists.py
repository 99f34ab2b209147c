"""``v2g serve`` keeping its OCPP stations' local lists: the drivers' tokens (a real
store) go to a station (the link ``v2g secc`` runs, over a real WebSocket to our CSMS)
as a Full list, again only when they change or the station holds another version."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.ocpp.processes import free_port, station_cs1
from v2g.drivers import IdTokenRecord
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.station_config import OcppStationConfig
from v2g.service.station_local_lists import StationLocalLists, list_entry
from v2g.store import open_store, sqlite_url
from v2g.store.drivers import SqlDriverStore
from v2g.testing import FakeClock
from v2g.testing.stations import StaticCredentials

NOW = datetime(2030, 7, 1, tzinfo=UTC)
PASSWORD = "password-of-cs-1!"


def test_each_token_is_listed_with_its_status_now() -> None:
    until = NOW + timedelta(days=1)
    valid = IdTokenRecord("ISO14443", "04A1B2C3", "d-1", NOW - timedelta(days=1), until)
    assert list_entry(valid, False, NOW) == {
        "idToken": {"idToken": "04A1B2C3", "type": "ISO14443"},
        "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2030-07-02T00:00:00Z"},
    }
    assert list_entry(valid, True, NOW)["idTokenInfo"] == {"status": "Blocked"}
    assert list_entry(valid, False, until)["idTokenInfo"] == {"status": "Expired"}
    later = IdTokenRecord("Central", "app-1", "d-1", NOW + timedelta(hours=1))
    assert list_entry(later, False, NOW)["idTokenInfo"] == {"status": "Invalid"}


@dataclass
class Rig:
    drivers: SqlDriverStore
    csms: Csms
    lists: StationLocalLists
    link: ChargingStationLink
    config: OcppStationConfig
    clock: FakeClock
    boots: list[str]


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, port: int) -> AsyncIterator[Rig]:
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    clock = FakeClock(NOW)
    drivers = SqlDriverStore(engine)
    await drivers.create("d-1", "Ada", NOW)
    await drivers.put_token(IdTokenRecord("MacAddress", "001122334455", "d-1", NOW))
    csms = Csms(
        OcppSiteConfig("127.0.0.1", port, stations={"CS-1": {}}),
        StaticCredentials({"CS-1": PASSWORD}),
        lambda event: None,
        clock,
    )
    lists = StationLocalLists(drivers, csms, clock)
    csms.when_booted(lists.booted)
    boots: list[str] = []
    csms.when_booted(boots.append)
    config = station_cs1(port, tmp_path)
    link = ChargingStationLink(config, PASSWORD, {}, clock)
    try:
        async with serving(csms, "127.0.0.1", port):
            yield Rig(drivers, csms, lists, link, config, clock, boots)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def connected(r: Rig) -> AsyncIterator[None]:
    """The station connected and booted."""
    boots = len(r.boots)
    task = asyncio.create_task(r.link.run())
    try:
        async with asyncio.timeout(10):
            while len(r.boots) == boots:
                await asyncio.sleep(0.02)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def listed(link: ChargingStationLink) -> dict[str, str]:
    return {v: str(i["status"]) for (_, v), i in link.local_list.list.entries.items()}


async def test_a_station_gets_the_list_once_and_again_when_a_token_changes(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, free_port()) as r, connected(r):
        await r.lists.sweep()
        first = r.lists.version
        assert r.link.local_list.list.version == first == r.lists.held("CS-1")
        assert listed(r.link) == {"001122334455": "Accepted"}
        written = (tmp_path / "queue" / "CS-1.local-list.json").stat().st_mtime_ns

        await r.lists.sweep()  # nothing changed: nothing sent
        assert r.lists.version == first
        assert (tmp_path / "queue" / "CS-1.local-list.json").stat().st_mtime_ns == written

        await r.drivers.put_token(
            IdTokenRecord("MacAddress", "001122334455", "d-1", NOW, blocked=True)
        )
        await r.lists.sweep()
        assert r.lists.version > first
        assert r.link.local_list.list.version == r.lists.version
        assert listed(r.link) == {"001122334455": "Blocked"}


async def test_a_station_that_lost_its_list_gets_it_again_and_one_that_kept_it_does_not(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, free_port()) as r:
        async with connected(r):
            await r.lists.sweep()
        version = r.lists.version
        # The station comes back with its list kept: asked, not sent again.
        written = (tmp_path / "queue" / "CS-1.local-list.json").stat().st_mtime_ns
        async with connected(r):
            assert r.lists.held("CS-1") is None  # its boot made the CSMS ask again
            await r.lists.sweep()
            assert r.lists.held("CS-1") == version
        assert (tmp_path / "queue" / "CS-1.local-list.json").stat().st_mtime_ns == written
        # The station comes back without it (a new SECC, no file): the whole list.
        (tmp_path / "queue" / "CS-1.local-list.json").unlink()
        r.link = ChargingStationLink(r.config, PASSWORD, {}, r.clock)
        async with connected(r):
            assert r.link.local_list.list.version == 0
            await r.lists.sweep()
            assert r.link.local_list.list.version == version
            assert listed(r.link) == {"001122334455": "Accepted"}


async def test_an_offline_station_is_skipped_and_served_once_it_connects(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, free_port()) as r:
        await r.lists.sweep()
        assert r.lists.held("CS-1") is None
        async with connected(r):
            await r.lists.sweep()
            assert r.lists.held("CS-1") == r.lists.version == r.link.local_list.list.version
