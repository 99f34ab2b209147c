"""The station's local authorization list (OCPP 2.0.1 D01 SendLocalList, D02
GetLocalListVersion): the update rules, the offline verdict, the file it is kept in,
and a bad request over a real WebSocket answered with a CALLERROR that leaves the
stored list as it was."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from iso15118.shared.messages.enums import AuthorizationStatus

from tests.ocpp.processes import free_port, station_cs1
from tests.ocpp.test_station_authorize import settled
from tests.ocpp.test_station_operations_with_ocpp_rpc import Rig, rig  # noqa: F401 (fixture)
from tests.ocpp.test_station_with_ocpp_rpc import CHARGER, PASSWORD
from v2g.ocpp.charging_station import ChargingStationLink, load_charger
from v2g.ocpp.local_list import LocalList, offline_verdict, updated
from v2g.ocpp.station_authorize import StationAuthorization
from v2g.ocpp.station_local_list import StoredLocalList
from v2g.secc.config import ConfigError
from v2g.testing import FakeClock
from v2g.testing.evse_controllers import AuthorizingController as Controller

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)


def entry(value: str, status: str | None = "Accepted", kind: str = "ISO14443") -> dict[str, Any]:
    data: dict[str, Any] = {"idToken": {"idToken": value, "type": kind}}
    if status is not None:
        data["idTokenInfo"] = {"status": status}
    return data


def full(version: int, *entries: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"versionNumber": version, "updateType": "Full"}
    if entries:
        request["localAuthorizationList"] = list(entries)
    return request


def differential(version: int, *entries: dict[str, Any]) -> dict[str, Any]:
    return {**full(version, *entries), "updateType": "Differential"}


def statuses(local: LocalList) -> dict[str, str]:
    return {value: str(info["status"]) for (_, value), info in local.entries.items()}


def test_a_full_list_replaces_the_list_and_an_empty_one_clears_it() -> None:
    first = updated(LocalList(), full(3, entry("AA11BB22"), entry("CC33DD44", "Blocked")))
    assert (first.status, first.list.version) == ("Accepted", 3)
    assert statuses(first.list) == {"AA11BB22": "Accepted", "CC33DD44": "Blocked"}
    # A Full list may carry any version, lower ones too (the CSMS starts again).
    second = updated(first.list, full(2, entry("EE55FF66")))
    assert (second.status, statuses(second.list)) == ("Accepted", {"EE55FF66": "Accepted"})
    cleared = updated(second.list, full(4))
    assert (cleared.status, cleared.list.version, statuses(cleared.list)) == ("Accepted", 4, {})


def test_a_differential_update_adds_replaces_and_removes_entries() -> None:
    base = updated(LocalList(), full(1, entry("AA11BB22"), entry("CC33DD44"))).list
    change = differential(
        2, entry("AA11BB22", "Blocked"), entry("CC33DD44", None), entry("EE55FF66")
    )
    after = updated(base, change)
    assert (after.status, after.list.version) == ("Accepted", 2)
    assert statuses(after.list) == {"AA11BB22": "Blocked", "EE55FF66": "Accepted"}


def test_a_differential_update_not_above_the_installed_version_is_a_version_mismatch() -> None:
    base = updated(LocalList(), full(5, entry("AA11BB22"))).list
    for version in (5, 4):
        answer = updated(base, differential(version, entry("CC33DD44")))
        assert answer.status == "VersionMismatch"
        assert answer.list is base
        assert "not above the installed 5" in answer.answer()["statusInfo"]["additionalInfo"]


def test_updates_that_cannot_be_applied_fail_and_keep_the_list() -> None:
    base = updated(LocalList(), full(1, entry("AA11BB22"))).list
    bad = {
        "version 0": full(0, entry("CC33DD44")),
        "a Full entry without status": full(2, entry("CC33DD44", None)),
        "a token twice": full(2, entry("CC33DD44"), entry("cc:33:dd:44", "Blocked")),
        "no date": full(
            2,
            {
                "idToken": {"idToken": "CC33DD44", "type": "ISO14443"},
                "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "tomorrow"},
            },
        ),
    }
    for name, request in bad.items():
        answer = updated(base, request)
        assert (answer.status, answer.list) == ("Failed", base), name
        assert answer.answer()["statusInfo"]["additionalInfo"], name


def test_offline_a_listed_token_goes_by_its_status_and_an_unlisted_one_by_the_setting() -> None:
    later = (NOW + timedelta(hours=1)).isoformat()
    earlier = (NOW - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    local = updated(
        LocalList(),
        full(
            7,
            entry("001122334455", kind="MacAddress"),
            entry("66778899AABB", "Blocked", kind="MacAddress"),
            entry("DEV2GC123456789", kind="eMAID"),
            {
                "idToken": {"idToken": "AA11BB22", "type": "ISO14443"},
                "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": later},
            },
            {
                "idToken": {"idToken": "CC33DD44", "type": "ISO14443"},
                "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": earlier},
            },
        ),
    ).list

    def status(value: str, kind: str, accept_unknown: bool = False) -> str:
        token = {"idToken": value, "type": kind}
        return offline_verdict(local, token, NOW, accept_unknown).status

    # The EVCCID as the SECC reports it matches the list's folded MAC address.
    assert status("00:11:22:33:44:55", "MacAddress") == "Accepted"
    assert status("66:77:88:99:aa:bb", "MacAddress") == "Blocked"
    assert status("DE-V2G-C12345678-9", "eMAID") == "Accepted"
    assert status("AA11BB22", "ISO14443") == "Accepted"
    assert status("CC33DD44", "ISO14443") == "Expired"
    # Value and type: the same value as another type is not listed.
    assert status("AA11BB22", "Central") == "Unknown"
    assert status("FFFFFFFFFFFF", "MacAddress") == "Unknown"
    assert status("FFFFFFFFFFFF", "MacAddress", accept_unknown=True) == "Accepted"
    blocked = offline_verdict(local, {"idToken": "667788", "type": "Central"}, NOW, False)
    assert "not in local list v7" in blocked.reason


def test_the_stored_list_survives_a_restart_and_a_failed_write_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue" / "CS-1.local-list.json"
    stored = StoredLocalList(path, FakeClock(NOW))
    assert stored.answer("GetLocalListVersion", {}) == {"versionNumber": 0}
    request = full(3, entry("AA11BB22"), entry("CC33DD44", "Blocked"))
    assert stored.answer("SendLocalList", request) == {"status": "Accepted"}
    again = StoredLocalList(path, FakeClock(NOW))
    assert again.answer("GetLocalListVersion", {}) == {"versionNumber": 3}
    assert statuses(again.list) == {"AA11BB22": "Accepted", "CC33DD44": "Blocked"}
    assert not path.with_suffix(".tmp").exists()

    # The temporary file cannot be written (a directory is in its place).
    path.with_suffix(".tmp").mkdir()
    before = path.read_bytes()
    answer = again.answer("SendLocalList", differential(4, entry("EE55FF66")))
    assert answer["status"] == "Failed"
    assert "could not be stored" in answer["statusInfo"]["additionalInfo"]
    assert again.list.version == 3 and path.read_bytes() == before


def test_an_unreadable_list_file_starts_the_station_without_a_list(tmp_path: Path) -> None:
    path = tmp_path / "CS-1.local-list.json"
    path.write_text("{not json", encoding="utf-8")
    assert StoredLocalList(path, FakeClock(NOW)).list == LocalList()


# -- over a real WebSocket: a CSMS that sends what it likes ----------------------


class RawCsms:
    """A CSMS that accepts the station's boot and sends it raw frames."""

    def __init__(self) -> None:
        self.socket: web.WebSocketResponse | None = None
        self.answers: asyncio.Queue[list[Any]] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(protocols=("ocpp2.0.1",))
        await socket.prepare(request)
        self.socket = socket
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame[0] == 2:  # the station's call: boot accepted, the rest acknowledged
                result = {}
                if frame[2] == "BootNotification":
                    result = {
                        "currentTime": NOW.isoformat(),
                        "interval": 300,
                        "status": "Accepted",
                    }
                await socket.send_str(json.dumps([3, frame[1], result]))
            else:
                await self.answers.put(frame)
        return socket

    async def call(self, message_id: str, action: str, payload: Any) -> list[Any]:
        assert self.socket is not None
        await self.socket.send_str(json.dumps([2, message_id, action, payload]))
        return await asyncio.wait_for(self.answers.get(), 10)


@contextlib.asynccontextmanager
async def raw_csms_and_link(tmp_path: Path) -> AsyncIterator[tuple[RawCsms, ChargingStationLink]]:
    csms = RawCsms()
    app = web.Application()
    app.router.add_get("/ocpp/{station}", csms.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    link = ChargingStationLink(station_cs1(port, tmp_path), "", {}, FakeClock(NOW))
    running = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(10):
            while not link.online or csms.socket is None:
                await asyncio.sleep(0.02)
        yield csms, link
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await runner.cleanup()


async def test_a_request_the_schema_refuses_is_a_callerror_and_the_stored_list_stays(
    tmp_path: Path,
) -> None:
    async with raw_csms_and_link(tmp_path) as (csms, link):
        good = full(2, entry("AA11BB22"), entry("CC33DD44", "Blocked"))
        assert await csms.call("m-1", "SendLocalList", good) == [3, "m-1", {"status": "Accepted"}]
        stored = tmp_path / "queue" / "CS-1.local-list.json"
        before = stored.read_bytes()
        refused = {
            "unknown update type": {"versionNumber": 3, "updateType": "Everything"},
            "no version": {"updateType": "Full", "localAuthorizationList": [entry("EE55FF66")]},
            "an empty list": {
                "versionNumber": 3,
                "updateType": "Full",
                "localAuthorizationList": [],
            },
            "a bad status": full(3, entry("EE55FF66", "Fine")),
            "a token too long": full(3, entry("E" * 37, kind="Central")),
        }
        for n, (name, payload) in enumerate(refused.items()):
            answer = await csms.call(f"bad-{n}", "SendLocalList", payload)
            assert answer[0] == 4, name
            assert answer[2] in (
                "FormatViolation",
                "OccurrenceConstraintViolation",
                "PropertyConstraintViolation",
                "TypeConstraintViolation",
            ), name
            assert "SendLocalList" in answer[3], name
        assert stored.read_bytes() == before
        version = await csms.call("m-2", "GetLocalListVersion", {})
        assert version == [3, "m-2", {"versionNumber": 2}]
        assert statuses(link.local_list.list) == {"AA11BB22": "Accepted", "CC33DD44": "Blocked"}


# -- an independent CSMS: ocpp-rpc in strict mode (OCPP 2.1 and 2.0.1) -------------


async def test_an_ocpp_rpc_csms_installs_and_updates_the_list_and_it_decides_offline(
    rig: Rig,  # noqa: F811 (the fixture)
) -> None:
    assert await rig.call("GetLocalListVersion", {}) == {"versionNumber": 0}
    listed = full(
        10, entry("001122334455", kind="MacAddress"), entry("DE8AAC123456789", kind="eMAID")
    )
    assert await rig.call("SendLocalList", listed) == {"status": "Accepted"}
    change = differential(11, entry("001122334455", "Blocked", kind="MacAddress"))
    assert await rig.call("SendLocalList", change) == {"status": "Accepted"}
    stale = await rig.call("SendLocalList", differential(11, entry("AA11BB22")))
    assert stale["status"] == "VersionMismatch"
    assert await rig.call("GetLocalListVersion", {}) == {"versionNumber": 11}

    rig.csms.close()
    while rig.link.online:
        await asyncio.sleep(0.05)
    authorization = StationAuthorization(rig.link, wait_s=0.2, offline=rig.link.local_list)
    blocked, contract = Controller("E1"), Controller("E2")
    for controller in (blocked, contract):
        authorization.guard(controller)
        controller.begin("00:11:22:33:44:55")
    refused = await settled(blocked)
    assert refused.authorization_status is AuthorizationStatus.REJECTED
    accepted = await settled(contract, id_token="DE-8AA-C12345678-9")
    assert accepted.authorization_status is AuthorizationStatus.ACCEPTED


def test_the_charger_file_says_whether_unknown_tokens_charge_offline(tmp_path: Path) -> None:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    path = tmp_path / "charger.toml"
    text = CHARGER.format(version="2.0.1")
    path.write_text(text)
    default = load_charger(path)[1]
    assert default is not None and not default.accept_unknown_offline
    allowing = 'queue_dir = "q"\naccept_unknown_offline = true'
    path.write_text(text.replace('queue_dir = "queue"', allowing))
    ocpp = load_charger(path)[1]
    assert ocpp is not None and ocpp.accept_unknown_offline
    link = ChargingStationLink(ocpp, PASSWORD, {}, FakeClock(NOW))
    stranger = {"idToken": "0A0B0C0D0E0F", "type": "MacAddress"}
    assert link.local_list.verdict(stranger).status == "Accepted"
    path.write_text(text.replace('queue_dir = "queue"', allowing.replace("true", '"yes"')))
    with pytest.raises(ConfigError) as raised:
        load_charger(path)
    assert "ocpp.accept_unknown_offline: must be true or false" in " ".join(raised.value.problems)
