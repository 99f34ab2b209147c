"""SECC start-up: one iso15118 communication-session handler per EVSE.

This is the edge where the product meets the iso15118 package's global settings.
Everything the package would read from environment variables or a ``.env`` file is
set here explicitly from the product's configuration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from iso15118.secc.secc_settings import Config as Iso15118Config
from iso15118.shared.iexi_codec import IEXICodec
from iso15118.shared.messages.enums import AuthEnum, Protocol
from iso15118.shared.settings import SHARED_CWD, SettingKey, shared_settings

from v2g.clock import Clock
from v2g.secc.config import EvseConfig, SeccConfig
from v2g.secc.controller import EvseController
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.mailbox import SetpointMailbox

logger = logging.getLogger(__name__)


def supported_protocols(evse: EvseConfig) -> list[Protocol]:
    """SupportedAppProtocol offer for one EVSE, newest first. DIN SPEC 70121 is DC only;
    ISO 15118-20 is offered in the EVSE's own current type."""
    offered: list[Protocol] = []
    if "iso20" in evse.protocols:
        offered.append(
            Protocol.ISO_15118_20_AC if evse.current == "ac" else Protocol.ISO_15118_20_DC
        )
    if "iso2" in evse.protocols:
        offered.append(Protocol.ISO_15118_2)
    if "din" in evse.protocols and evse.current == "dc":
        offered.append(Protocol.DIN_SPEC_70121)
    return offered


def iso15118_config(evse: EvseConfig, log_level: str) -> Iso15118Config:
    """The iso15118 SECC settings for one EVSE, without reading the environment.

    Authorization is External Identification Means only: with iso15118 0.31.2's
    defaults, -20 offers Plug & Charge without TLS, the EV picks it and the session
    crashes for lack of certificates. Plug & Charge comes with the PKI.
    """
    config = Iso15118Config()
    config.iface = evse.interface  # the package defaults to eth0
    config.log_level = log_level
    config.enforce_tls = False
    config.free_charging_service = False
    config.free_cert_install_service = False
    config.allow_cert_install_service = False
    config.use_cpo_backend = False
    config.supported_protocols = supported_protocols(evse)
    config.supported_auth_options = [AuthEnum.EIM]
    config.standby_allowed = False
    return config


def apply_shared_settings() -> None:
    """Fill iso15118's process-wide settings dict (normally read from ``.env``)."""
    shared_settings.update(
        {
            SettingKey.PKI_PATH: SHARED_CWD + "/pki/",
            # The product logs every exchange itself (RecordingCodec); the package's JSON
            # dump of each message costs time inside the response budget.
            SettingKey.MESSAGE_LOG_JSON: False,
            SettingKey.MESSAGE_LOG_EXI: False,
            SettingKey.ENABLE_TLS_1_3: False,
        }
    )


@dataclass(frozen=True, slots=True)
class EvseRuntime:
    """What runs for one EVSE: its configuration, mailbox and controller."""

    config: EvseConfig
    mailbox: SetpointMailbox
    controller: EvseController


class Station:
    """The SECC runtime of one charger: its EVSEs, their mailboxes, one event bus."""

    def __init__(
        self,
        config: SeccConfig,
        codec: IEXICodec,
        clock: Clock,
        events: SessionEventBus | None = None,
    ) -> None:
        self.config = config
        self.codec = codec
        self.events = events or SessionEventBus()
        self.evses: dict[str, EvseRuntime] = {}
        for evse in config.evses:
            mailbox = SetpointMailbox()
            controller = EvseController(evse, mailbox, self.events, clock)
            self.evses[evse.evse_id] = EvseRuntime(evse, mailbox, controller)

    def mailbox(self, evse_id: str) -> SetpointMailbox:
        return self.evses[evse_id].mailbox

    async def wait_ready(self, timeout_s: float) -> None:
        """Return once every EVSE's SDP and TCP servers listen (iso15118 reports READY)."""
        from iso15118.secc.controller.interface import ServiceStatus

        async def all_ready() -> None:
            while any(r.controller.status != ServiceStatus.READY for r in self.evses.values()):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(all_ready(), timeout=timeout_s)

    async def run(self) -> None:
        """Serve every EVSE until cancelled (or until one handler fails)."""
        from iso15118.secc import SECCHandler
        from iso15118.secc.controller.interface import ServiceStatus

        apply_shared_settings()
        handlers: list[asyncio.Task[None]] = []
        for runtime in self.evses.values():
            await runtime.controller.set_status(ServiceStatus.STARTING)
            handler = SECCHandler(
                exi_codec=self.codec,
                evse_controller=runtime.controller,
                config=iso15118_config(runtime.config, self.config.log_level),
            )
            logger.info(
                "EVSE %s listening on %s (%s)",
                runtime.config.evse_id,
                runtime.config.interface,
                ", ".join(p.name for p in supported_protocols(runtime.config)),
            )
            handlers.append(asyncio.create_task(handler.start(runtime.config.interface)))
        await _first_failure(handlers)


async def _first_failure(tasks: Iterable[asyncio.Task[None]]) -> None:
    pending = set(tasks)
    try:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in pending:
            task.cancel()
