"""``v2g secc`` asking the CSMS to Authorize its ISO 15118 sessions: our station link
connected over a real WebSocket to our CSMS, the SECC controller's ``is_authorized``
wrapped as ``v2g secc`` wraps it (``[ocpp] authorize = true``)."""

from __future__ import annotations

import asyncio
import contextlib
import socket as sockets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from iso15118.secc.controller.interface import AuthorizationResponse
from iso15118.shared.messages.enums import AuthorizationStatus
from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode

from pki.profiles import PROFILES, Role
from pki.testpki import TestPki, build_test_pki
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_authorize import StationAuthorization
from v2g.ocpp.station_config import OcppStationConfig
from v2g.testing import FakeClock
from v2g.testing.evse_controllers import AuthorizingController as Controller
from v2g.testing.stations import StaticCredentials

EVCCID_KNOWN = "00:11:22:33:44:55"
EVCCID_STRANGER = "66:77:88:99:AA:BB"
EMAID = "DE-V2G-C12345678-9"
PASSWORD = "password-of-cs-1!"


def chain(pki: TestPki) -> bytes:
    roles = (Role.CONTRACT_LEAF, Role.MO_SUB_CA2, Role.MO_SUB_CA1)
    return b"".join(pki[r].certificate.public_bytes(Encoding.PEM) for r in roles)


@pytest.fixture(scope="module")
def mo() -> TestPki:
    return build_test_pki(PROFILES["iso2"], datetime.now(UTC), emaid=EMAID)


def free_port() -> int:
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Setup:
    link: ChargingStationLink
    authorization: StationAuthorization
    task: asyncio.Task[None] | None


@contextlib.asynccontextmanager
async def station(tmp_path: Path, mo: TestPki, *, online: bool = True) -> AsyncIterator[Setup]:
    root = tmp_path / "mo.pem"
    root.write_bytes(mo[Role.MO_ROOT].certificate.public_bytes(Encoding.PEM))
    port = free_port()
    csms = Csms(
        OcppSiteConfig("127.0.0.1", port, id_tokens=(EVCCID_KNOWN,), contract_roots=(root,)),
        StaticCredentials({"CS-1": PASSWORD}),
        lambda event: None,
        FakeClock(datetime.now(UTC)),
    )
    config = OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{port}/ocpp",
        station_id="CS-1",
        password_file=None,
        version=OcppVersion.V201,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1, "E2": 2},
        authorize=True,
    )
    link = ChargingStationLink(config, PASSWORD, {}, FakeClock(datetime.now(UTC)))
    async with serving(csms, "127.0.0.1", port):
        task = asyncio.create_task(link.run()) if online else None
        try:
            if online:
                async with asyncio.timeout(10):
                    while not link.online:
                        await asyncio.sleep(0.02)
            yield Setup(link, StationAuthorization(link, wait_s=0.2), task)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def settled(controller: Controller, **kwargs: Any) -> AuthorizationResponse:
    """Asks as the EV does, again while the answer is Ongoing."""
    for _ in range(50):
        answer: AuthorizationResponse = await controller.is_authorized(**kwargs)
        if answer.authorization_status is not AuthorizationStatus.ONGOING:
            return answer
    raise AssertionError("still Ongoing")


async def test_eim_sessions_are_authorized_by_the_evccid_at_the_csms(
    tmp_path: Path, mo: TestPki
) -> None:
    async with station(tmp_path, mo) as setup:
        known, stranger = (
            Controller("E1", AuthorizationStatus.ACCEPTED),
            Controller("E2", AuthorizationStatus.ACCEPTED),
        )
        setup.authorization.guard(known)
        setup.authorization.guard(stranger)
        known.begin(EVCCID_KNOWN)
        stranger.begin(EVCCID_STRANGER)
        accepted = await settled(known)
        assert accepted.authorization_status is AuthorizationStatus.ACCEPTED
        refused = await settled(stranger)
        assert refused.authorization_status is AuthorizationStatus.REJECTED
        assert refused.certificate_response_status is ResponseCode.FAILED


async def test_plug_and_charge_contracts_are_checked_against_the_csms_mo_roots(
    tmp_path: Path, mo: TestPki
) -> None:
    other = build_test_pki(PROFILES["iso2"], datetime.now(UTC), emaid=EMAID)
    async with station(tmp_path, mo) as setup:
        first, second = (
            Controller("E1", AuthorizationStatus.ACCEPTED),
            Controller("E2", AuthorizationStatus.ACCEPTED),
        )
        setup.authorization.guard(first)
        setup.authorization.guard(second)
        first.begin(EVCCID_STRANGER)
        second.begin(EVCCID_STRANGER)
        ours = await settled(first, id_token=EMAID, certificate_chain=chain(mo))
        assert ours.authorization_status is AuthorizationStatus.ACCEPTED
        theirs = await settled(second, id_token=EMAID, certificate_chain=chain(other))
        assert theirs.authorization_status is AuthorizationStatus.REJECTED
        assert theirs.certificate_response_status is ResponseCode.FAILED_CERT_CHAIN_ERROR


async def test_a_local_refusal_is_final_and_offline_the_local_answer_stands(
    tmp_path: Path, mo: TestPki
) -> None:
    async with station(tmp_path, mo, online=False) as setup:
        refused = Controller("E1", AuthorizationStatus.REJECTED)
        offline = Controller("E2", AuthorizationStatus.ACCEPTED)
        setup.authorization.guard(refused)
        setup.authorization.guard(offline)
        refused.begin(EVCCID_KNOWN)
        offline.begin(EVCCID_STRANGER)
        assert (await settled(refused)).authorization_status is AuthorizationStatus.REJECTED
        assert (await settled(offline)).authorization_status is AuthorizationStatus.ACCEPTED
