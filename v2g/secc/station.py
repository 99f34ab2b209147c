"""SECC start-up: one iso15118 communication-session handler per EVSE.

This is the edge where the product meets the iso15118 package's global settings.
Everything the package would read from environment variables or a ``.env`` file is
set here explicitly from the product's configuration.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from iso15118.secc.secc_settings import Config as Iso15118Config
from iso15118.shared.iexi_codec import IEXICodec
from iso15118.shared.messages.enums import AuthEnum, Protocol
from iso15118.shared.settings import SHARED_CWD, SettingKey, shared_settings

from pki.store import PkiStore
from v2g.clock import Clock
from v2g.hardware.seams import ControlPilot
from v2g.secc.codec import RecordingCodec
from v2g.secc.config import ConfigError, EvseConfig, SeccConfig
from v2g.secc.controller import EvseController
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.iso15118_hooks import (
    install_charge_loop_timeout,
    install_connection_guard,
    install_exchange_timing,
    install_framer,
    install_hooks,
    install_renegotiation_stop,
)
from v2g.secc.mailbox import SetpointMailbox
from v2g.secc.plug_and_charge import PkiSetupError, PlugAndCharge, remove_package_pki_path
from v2g.secc.priority import apply_realtime_priority, log_through_a_thread
from v2g.secc.schema_conformance import install_schema_conformance
from v2g.secc.supervisor import Supervisor

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


def iso15118_config(
    evse: EvseConfig, log_level: str, plug_and_charge: bool = False, cpo_backend: bool = False
) -> Iso15118Config:
    """The iso15118 SECC settings for one EVSE, without reading the environment.

    Without a PKI, authorization is External Identification Means only: with iso15118
    0.31.2's defaults, -20 offers Plug & Charge without TLS, the EV picks it and the
    session crashes for lack of certificates. With a PKI, Plug & Charge and (-2 only)
    contract certificate installation are offered over TLS (``plug_and_charge.py``).
    """
    config = Iso15118Config()
    config.iface = evse.interface  # the package defaults to eth0
    config.log_level = log_level
    config.enforce_tls = False
    config.free_charging_service = False
    config.free_cert_install_service = False
    config.allow_cert_install_service = plug_and_charge
    # True: -2 certificate installation is forwarded (OCPP Get15118EVCertificate).
    config.use_cpo_backend = cpo_backend
    config.supported_protocols = supported_protocols(evse)
    config.supported_auth_options = (
        [AuthEnum.PNC, AuthEnum.EIM] if plug_and_charge else [AuthEnum.EIM]
    )
    config.standby_allowed = False
    return config


def apply_shared_settings(pki_path: Path | None = None) -> None:
    """Fill iso15118's process-wide settings dict (normally read from ``.env``).

    ``pki_path`` is a folder in the package's own layout (``iso15118_2/certs`` ...).
    """
    shared_settings.update(
        {
            SettingKey.PKI_PATH: str(pki_path) if pki_path else SHARED_CWD + "/pki/",
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
        self.plug_and_charge = _plug_and_charge(config, clock)
        #: Contract installation answered by a backend (the OCPP CSMS), not locally.
        self.cpo_backend = False
        contract_check = self.plug_and_charge.check_contract_pem if self.plug_and_charge else None
        self.evses: dict[str, EvseRuntime] = {}
        for evse in config.evses:
            mailbox = SetpointMailbox(clock)
            controller = EvseController(
                evse, mailbox, self.events, clock, contract_check=contract_check
            )
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

    async def run(self, *, own_process: bool = False) -> None:
        """Serve every EVSE until cancelled (or until one handler fails).

        ``own_process``: the SECC is the only thing this process runs (``v2g secc``).
        Then its log lines are written by a thread, so a slow log sink never stalls an
        answer, and ``realtime_priority`` applies. Sharing a process (``v2g serve``),
        the priority would pass to the aggregator's loop and to the planner thread it
        starts later, so it is not applied there, with a warning."""
        pki_path: Path | None = None
        if self.plug_and_charge is not None:
            install_hooks(self.plug_and_charge)
            pki_path = self.plug_and_charge.package_pki_path()
        # After install_hooks, which unwraps to the package's own TCP callback.
        timeout_s = self.config.sequence_timeout_s
        install_connection_guard(quiet_limit_s=timeout_s)
        install_schema_conformance()
        install_framer(timeout_s)
        install_renegotiation_stop()
        install_charge_loop_timeout()
        if isinstance(self.codec, RecordingCodec):
            install_exchange_timing(self.codec)
        apply_shared_settings(pki_path)
        stop_log_thread = None
        if own_process:
            # The log thread first: started now, it keeps normal priority.
            stop_log_thread = log_through_a_thread()
            if self.config.realtime_priority is not None:
                apply_realtime_priority(self.config.realtime_priority)
        elif self.config.realtime_priority is not None:
            logger.warning(
                "realtime_priority applies to `v2g secc` (the SECC in its own process); "
                "here the SECC shares its event loop with other work, so it is not applied"
            )
        try:
            await self._serve()
        finally:
            if stop_log_thread is not None:
                stop_log_thread()
            if pki_path is not None:
                remove_package_pki_path(pki_path)

    async def _serve(self) -> None:
        from iso15118.secc import SECCHandler
        from iso15118.secc.controller.interface import ServiceStatus

        handlers: list[asyncio.Task[None]] = []
        for runtime in self.evses.values():
            await runtime.controller.set_status(ServiceStatus.STARTING)
            handler = SECCHandler(
                exi_codec=self.codec,
                evse_controller=runtime.controller,
                config=iso15118_config(
                    runtime.config,
                    self.config.log_level,
                    self.plug_and_charge is not None,
                    self.cpo_backend,
                ),
            )
            logger.info(
                "EVSE %s listening on %s (%s)",
                runtime.config.evse_id,
                runtime.config.interface,
                ", ".join(p.name for p in supported_protocols(runtime.config)),
            )
            handlers.append(asyncio.create_task(handler.start(runtime.config.interface)))
            if runtime.config.slac:
                handlers.append(
                    asyncio.create_task(_slac(runtime.config, runtime.controller.pilot))
                )
            handlers.append(asyncio.create_task(runtime.controller.stage.run()))
            handlers.append(asyncio.create_task(Supervisor(runtime.controller).run()))
        await _first_failure(handlers)


async def _slac(evse: EvseConfig, pilot: ControlPilot) -> None:
    """SLAC on the EVSE's PLC interface as its control pilot says (v2g/slac/README.md)."""
    from v2g.slac.frames import parse_mac
    from v2g.slac.link import SlacLink, open_raw_socket, slac_by_pilot

    sock = open_raw_socket(evse.slac_interface or evse.interface)
    link = SlacLink(sock, modem_mac=parse_mac(evse.slac_modem_mac), name=evse.evse_id)
    await slac_by_pilot(link, pilot)


def _plug_and_charge(config: SeccConfig, clock: Clock) -> PlugAndCharge | None:
    """The station's PKI when ``pki_dir`` is configured; its SECC certificate must
    verify now and name one of the station's EVSEs."""
    if config.pki_dir is None:
        return None
    protocols = {p for evse in config.evses for p in evse.protocols}
    try:
        pnc = PlugAndCharge(
            PkiStore(config.pki_dir),
            clock,
            os.environ,
            tls12="iso2" in protocols or "din" in protocols,
            tls13="iso20" in protocols,
        )
        evse_id = pnc.check_secc_certificate([e.evse_id for e in config.evses])
    except PkiSetupError as error:
        raise ConfigError([f"pki_dir {config.pki_dir}: {error}"]) from error
    logger.info("Plug & Charge with the PKI in %s (SECC certificate %s)", config.pki_dir, evse_id)
    return pnc


async def _first_failure(tasks: Iterable[asyncio.Task[None]]) -> None:
    pending = set(tasks)
    try:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in pending:
            task.cancel()
