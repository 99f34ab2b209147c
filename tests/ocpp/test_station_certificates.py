"""``v2g secc`` forwarding an EV's ISO 15118-2 CertificateInstallationReq to the CSMS
(Get15118EVCertificate): our station link over a real WebSocket to our CSMS, whose
contract provider is the project's PKI; the SECC controller's
``get_15118_ev_certificate`` wrapped as ``v2g secc`` wraps it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket as sockets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ocpp.processes import station_cs1
from tests.ocpp.test_contract_provider import EMAID, ISO2, installation_request
from tests.ocpp.tls_files import OcppPki, make_pki
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.station_certificates import forward_installations
from v2g.secc.config import EvseConfig
from v2g.secc.station import iso15118_config
from v2g.testing import FakeClock
from v2g.testing.stations import StaticCredentials

PASSWORD = "password-of-cs-1!"


@dataclass
class Evse:
    evse_id: str


class Controller:
    """The part of an EvseController the forwarding uses."""

    def __init__(self) -> None:
        self.evse = Evse("E1")

    async def get_15118_ev_certificate(self, request: str, namespace: str) -> str:
        raise NotImplementedError  # what the product's controller does without a backend


@pytest.fixture(scope="module")
def mo(tmp_path_factory: pytest.TempPathFactory) -> OcppPki:
    return make_pki(tmp_path_factory.mktemp("mo"), ())


def free_port() -> int:
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def connected(
    tmp_path: Path, provider: OcppPki | None, online: bool = True
) -> AsyncIterator[ChargingStationLink]:
    port = free_port()
    site = OcppSiteConfig(
        "127.0.0.1",
        port,
        contract_provider_pki=provider.store.root if provider else None,
        contract_provider_emaid=EMAID if provider else None,
    )
    clock = FakeClock(datetime.now(UTC))
    csms = Csms(site, StaticCredentials({"CS-1": PASSWORD}), lambda e: None, clock)
    config = replace(station_cs1(port, tmp_path), forward_certificate_installation=True)
    link = ChargingStationLink(config, PASSWORD, {}, clock)
    async with serving(csms, "127.0.0.1", port):
        task = asyncio.create_task(link.run()) if online else None
        try:
            async with asyncio.timeout(10):
                while online and not link.online:
                    await asyncio.sleep(0.02)
            yield link
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def test_the_evs_installation_request_is_answered_by_the_csms(
    tmp_path: Path, mo: OcppPki
) -> None:
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace

    controller = Controller()
    async with connected(tmp_path, mo) as link:
        forward_installations(controller, link)
        request = base64.b64encode(installation_request(mo)).decode()
        answer = await controller.get_15118_ev_certificate(request, ISO2)
    message = EXI().from_exi(base64.b64decode(answer), Namespace.ISO_V2_MSG_DEF)
    installed = message.body.certificate_installation_res
    assert installed.response_code.name == "OK" and installed.emaid.value == "DEV2GC123456789"


async def test_a_refusal_or_an_absent_csms_raises_so_the_ev_hears_failed(
    tmp_path: Path, mo: OcppPki
) -> None:
    request = base64.b64encode(installation_request(mo)).decode()
    controller = Controller()
    async with connected(tmp_path / "no-provider", None) as link:
        forward_installations(controller, link)
        with pytest.raises(RuntimeError, match="NoCertAvailable"):
            await controller.get_15118_ev_certificate(request, ISO2)
    offline = Controller()
    async with connected(tmp_path / "offline", mo, online=False) as link:
        forward_installations(offline, link)
        with pytest.raises(ConnectionError):
            await offline.get_15118_ev_certificate(request, ISO2)


def test_the_secc_asks_its_backend_only_when_told() -> None:
    evse = EvseConfig(evse_id="E1", interface="lo", current="dc", max_charge_power_w=11000)
    assert not iso15118_config(evse, "INFO", True).use_cpo_backend
    assert iso15118_config(evse, "INFO", True, cpo_backend=True).use_cpo_backend
