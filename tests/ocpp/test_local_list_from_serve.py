"""The local authorization list end to end: a real ``v2g serve`` process with drivers
(made through its API) sends its tokens to the charging-station link that ``v2g secc``
runs; then ``v2g serve`` stops, and the station decides from the list it kept: a valid
token charges, a blocked or expired one is refused with its reason, an unlisted one is
refused unless ``[ocpp] accept_unknown_offline`` allows it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from iso15118.shared.messages.enums import AuthorizationStatus

from tests.ocpp.processes import api
from tests.ocpp.test_secc_link_to_serve import eventually, serve_site
from tests.ocpp.test_station_authorize import settled
from v2g.clock import SystemClock
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_authorize import StationAuthorization
from v2g.testing.evse_controllers import AuthorizingController as Controller

VALID, BLOCKED, EXPIRED, STRANGER = (
    "00:11:22:33:44:55",
    "66:77:88:99:AA:BB",
    "02:00:00:00:00:01",
    "0A:0B:0C:0D:0E:0F",
)


def tokens_posted(api_port: int, token: str) -> None:
    now = datetime.now(UTC)
    for driver_id in ("alice", "bob"):
        body = {"driver_id": driver_id, "name": driver_id.title()}
        assert api(api_port, "POST", "/api/v1/drivers", token, body)[0] == 201
    expired = {
        "type": "MacAddress",
        "value": EXPIRED,
        "valid_from": (now - timedelta(days=2)).isoformat(),
        "valid_until": (now - timedelta(days=1)).isoformat(),
    }
    for driver_id, body in (
        ("alice", {"type": "MacAddress", "value": VALID}),
        ("alice", expired),
    ):
        assert (
            api(api_port, "POST", f"/api/v1/drivers/{driver_id}/id-tokens", token, body)[0] == 201
        )


async def verdict(authorization: StationAuthorization, evse: str, ev_id: str) -> str:
    controller = Controller(evse, AuthorizationStatus.ACCEPTED)
    authorization.guard(controller)
    controller.begin(ev_id)
    return str((await settled(controller)).authorization_status.name)


async def test_serve_sends_its_drivers_tokens_and_the_station_decides_from_them_offline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve_site(tmp_path, OcppVersion.V201)
    service, api_port, token = served.service, served.api_port, served.operator_token
    await asyncio.to_thread(tokens_posted, api_port, token)
    station = served.station
    link = ChargingStationLink(station, served.password, {}, SystemClock())
    running = asyncio.create_task(link.run())
    stopped = False
    try:
        # At boot the station gets the list: the valid token and the expired one.
        first = await eventually(lambda: link.local_list.list.version and link.local_list.list)
        assert {v: i["status"] for (_, v), i in first.entries.items()} == {
            "001122334455": "Accepted",
            "020000000001": "Expired",
        }
        # A token blocked through the API reaches the station at once, as a new version.
        blocked = {"type": "MacAddress", "value": BLOCKED, "blocked": True}
        path = "/api/v1/drivers/bob/id-tokens"
        assert (await asyncio.to_thread(api, api_port, "POST", path, token, blocked))[0] == 201

        def with_bob() -> bool:
            return ("MacAddress", "66778899AABB") in link.local_list.list.entries

        await eventually(with_bob, timeout_s=10)
        assert link.local_list.list.version > first.version

        await asyncio.to_thread(service.stop)
        stopped = True
        await eventually(lambda: not link.online)
        authorization = StationAuthorization(link, wait_s=0.2, offline=link.local_list)
        with caplog.at_level(logging.WARNING, logger="v2g.ocpp.station_authorize"):
            assert await verdict(authorization, "E1", VALID) == "ACCEPTED"
            assert await verdict(authorization, "E2", BLOCKED) == "REJECTED"
            assert await verdict(authorization, "E3", EXPIRED) == "REJECTED"
            assert await verdict(authorization, "E4", STRANGER) == "REJECTED"
        said = caplog.text
        assert "MacAddress 66778899AABB listed as Blocked" in said
        assert "MacAddress 020000000001 listed as Expired" in said
        assert "MacAddress 0A0B0C0D0E0F not in local list" in said
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        if not stopped:
            await asyncio.to_thread(service.stop)

    # ``v2g secc`` restarted with unknown tokens allowed offline: the list it kept on
    # disk still refuses the blocked token; the stranger charges.
    allowing = replace(station, accept_unknown_offline=True)
    restarted = ChargingStationLink(allowing, "", {}, SystemClock())
    assert restarted.local_list.list == link.local_list.list
    authorization = StationAuthorization(restarted, wait_s=0.2, offline=restarted.local_list)
    assert await verdict(authorization, "E1", STRANGER) == "ACCEPTED"
    assert await verdict(authorization, "E2", BLOCKED) == "REJECTED"
