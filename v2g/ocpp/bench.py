"""Test bench: an SECC whose ISO 15118-2 contract installation goes over OCPP to a CSMS
in the same process, the CSMS's contract provider being a ``v2g pki init`` folder
(``v2g loopback`` with ``ocpp_installation``: the EV, the SECC, OCPP and the provider
all real, in the charger's network namespace)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from pki.profiles import Role
from pki.store import PkiStore
from pki.verify import common_name
from v2g.clock import Clock
from v2g.ocpp.charging_station import ChargingStationLink
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms, serving
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_certificates import forward_installations
from v2g.ocpp.station_config import OcppStationConfig
from v2g.tasks import stop_task
from v2g.testing.stations import StaticCredentials

STATION_ID = "LOOPBACK"


@contextlib.asynccontextmanager
async def forwarding_installations(
    station: Any, pki_dir: Path, clock: Clock
) -> AsyncIterator[ChargingStationLink]:
    """While open: a CSMS on loopback issuing contracts from ``pki_dir`` (for the EMAID
    of its contract certificate), ``station`` connected to it and forwarding every
    EVSE's installation requests."""
    password = secrets.token_urlsafe(18)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    emaid = common_name(PkiStore(pki_dir).certificate(Role.CONTRACT_LEAF))
    site = OcppSiteConfig(
        "127.0.0.1", port, contract_provider_pki=pki_dir, contract_provider_emaid=emaid
    )
    csms = Csms(site, StaticCredentials({STATION_ID: password}), lambda event: None, clock)
    with tempfile.TemporaryDirectory() as queue:
        config = OcppStationConfig(
            csms_url=f"ws://127.0.0.1:{port}/ocpp",
            station_id=STATION_ID,
            password_file=None,
            version=OcppVersion.V201,
            queue_dir=Path(queue),
            evses={},
            forward_certificate_installation=True,
        )
        link = ChargingStationLink(config, password, {}, clock)
        station.cpo_backend = True
        for runtime in station.evses.values():
            forward_installations(runtime.controller, link)
        async with serving(csms, "127.0.0.1", port):
            running = asyncio.create_task(link.run())
            try:
                async with asyncio.timeout(10):
                    while not link.online:
                        await asyncio.sleep(0.02)
                yield link
            finally:
                await stop_task(running)
