"""The vehicle side of a loopback session: the iso15118 package's own EVCC.

Run inside the vehicle's namespace by ``v2g loopback``:
``python -m v2g.secc.loopback.vehicle SPEC.json INTERFACE RESULT.json``.
Runs one session with the package's simulated EV and records every answer the EV
decoded. The bundled EVCC never exits after a session, so this wrapper stops it once
the SessionStopRes has arrived.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iso15118.evcc import EVCCHandler
from iso15118.evcc.controller.simulator import SimEVController
from iso15118.evcc.evcc_config import EVCCConfig
from iso15118.shared.iexi_codec import IEXICodec

from pki.keys import load_private_key
from pki.profiles import Role
from pki.store import PkiStore
from pki.tls import evcc_context
from v2g.secc.codec import make_codec, message_name, warm_up
from v2g.secc.loopback import is_bpt
from v2g.secc.loopback.spec import LoopbackSpec, run_side
from v2g.secc.message_signature import create_signature
from v2g.secc.plug_and_charge import package_pki_path, remove_package_pki_path
from v2g.secc.station import apply_shared_settings

logger = logging.getLogger("v2g.loopback.vehicle")

_EV_SETTINGS: dict[str, dict[str, Any]] = {
    "din-dc": {"supportedProtocols": ["DIN_SPEC_70121"], "energyTransferMode": "DC_extended"},
    "iso2-ac": {
        "supportedProtocols": ["ISO_15118_2"],
        "supportedEnergyServices": ["AC"],
        "energyTransferMode": "AC_three_phase_core",
    },
    "iso2-dc": {
        "supportedProtocols": ["ISO_15118_2"],
        "supportedEnergyServices": ["DC"],
        "energyTransferMode": "DC_extended",
    },
    "iso20-ac": {"supportedProtocols": ["ISO_15118_20_AC"], "supportedEnergyServices": ["AC"]},
    "iso20-dc": {"supportedProtocols": ["ISO_15118_20_DC"], "supportedEnergyServices": ["DC"]},
    "iso20-ac-bpt": {
        "supportedProtocols": ["ISO_15118_20_AC"],
        "supportedEnergyServices": ["AC_BPT"],
    },
    "iso20-dc-bpt": {
        "supportedProtocols": ["ISO_15118_20_DC"],
        "supportedEnergyServices": ["DC_BPT"],
    },
}


def evcc_settings(spec: LoopbackSpec) -> dict[str, Any]:
    """The EVCC's JSON configuration (the package's own format) for a protocol."""
    mode = {"energyTransferMode": spec.energy_transfer_mode} if spec.energy_transfer_mode else {}
    return {
        **_EV_SETTINGS[spec.protocol],
        **mode,
        "useTls": spec.pki_dir is not None,
        "isCertInstallNeeded": spec.cert_install,
        "chargeLoopCycle": spec.charge_loop_cycles,
        # Whole seconds only in the package's format: the delay is set on the
        # controller instead (``ev_controller``), to the fraction asked.
        "chargeLoopDelay": 0,
    }


def ev_controller(config: Any, spec: LoopbackSpec) -> SimEVController:
    """The package's simulated EV, waiting ``spec.charge_loop_delay_s`` (a float: its
    own setting takes whole seconds, too long for a -20 charge loop) between loops."""
    controller = SimEVController(config)
    controller.charge_loop_delay_time = spec.charge_loop_delay_s  # type: ignore[assignment]
    return controller


def use_ev_pki(spec: LoopbackSpec) -> Path | None:
    """Point the EVCC at the EV's certificates; TLS 1.3 for -20 (process-wide settings
    of the package). Without ``ev_certificate`` its TLS 1.3 client presents none."""
    if spec.ev_pki is None:
        return None
    from iso15118.shared.settings import SettingKey, shared_settings

    store = PkiStore(Path(spec.ev_pki))
    path = package_pki_path(store, store.passphrase(os.environ))
    iso20 = spec.protocol.startswith("iso20")
    apply_shared_settings(path)
    shared_settings[SettingKey.ENABLE_TLS_1_3] = iso20
    if iso20:
        # The package's EV signs with secp256r1 only; -20 contract keys are secp521r1
        # or Ed448 (test bench: the EV side is the package's simulator).
        from iso15118.evcc.states import iso15118_20_states

        iso15118_20_states.create_signature = create_signature
        iso15118_20_states.load_priv_key = _any_suite_key  # type: ignore[assignment]
    if iso20 and not spec.ev_certificate:
        from iso15118.evcc.transport import tcp_client

        def no_certificate(server_side: bool) -> ssl.SSLContext:
            return evcc_context(store.cert_path(Role.V2G_ROOT), tls13=True)

        tcp_client.get_ssl_context = no_certificate
    return path


def scale_ev_timeouts(factor: float) -> None:
    """Multiply every message timeout the EVCC waits for by ``factor``.

    Test-bench only: with the Java codec on both sides, this machine can exceed the
    standards' charge-loop timeouts (DIN, -20 DC_BPT). The EVCC offers no setting, so
    the vehicle process wraps the one method all its states use to arm a timeout.
    """
    if factor == 1.0:
        return
    from iso15118.shared.states import State

    original: Callable[..., None] = State.create_next_message

    def create_next_message(
        self: State,
        next_state: Any,
        next_msg: Any,
        next_msg_timeout: float,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        original(self, next_state, next_msg, float(next_msg_timeout) * factor, *args, **kwargs)

    State.create_next_message = create_next_message  # type: ignore[method-assign]


def _any_suite_key(key_path: str, key_encoding: Any, password_path: str) -> Any:
    """The package's key loader, for Ed448 too (it accepts EC keys only)."""
    from iso15118.shared.security import load_priv_key_pass

    return load_private_key(Path(key_path).read_bytes(), load_priv_key_pass(password_path))


class ObservingCodec(IEXICodec):
    """Delegates to a codec and hands every decoded message (the SECC's answers, as the
    EV received them) to ``on_decoded``."""

    def __init__(self, inner: IEXICodec, on_decoded: Callable[[str, dict[str, Any]], None]):
        self._inner = inner
        self._on_decoded = on_decoded

    def encode(self, message: str, namespace: str) -> bytes:
        return self._inner.encode(message, namespace)

    def decode(self, stream: bytes, namespace: str) -> str:
        decoded = self._inner.decode(stream, namespace)
        self._on_decoded(*message_name(decoded))
        return decoded

    def get_version(self) -> str:
        return self._inner.get_version()


def fall_silent_after(loops: int, silent_s: list[float], closed: asyncio.Event) -> None:
    """The EV stops sending after its ``loops``-th charge-loop request was answered:
    its next request is never written, and it waits (holding the connection) without
    timing out, as a vehicle whose controller hung, until the SECC closes the
    connection (``closed`` is set then)."""
    from iso15118.evcc.comm_session_handler import EVCCCommunicationSession

    original = EVCCCommunicationSession.send
    answered: list[str] = []

    async def send(self: Any, message: Any) -> None:
        name = type(self.current_state).__name__
        if name in ("CurrentDemand", "ChargingStatus", "DCChargeLoop", "ACChargeLoop"):
            answered.append(name)
        if len(answered) > loops:
            if not silent_s:
                silent_s.append(time.monotonic())
                logger.info("EV falls silent (injected fault)")
            while not self.reader.at_eof():
                await asyncio.sleep(0.01)
            closed.set()
            await asyncio.Event().wait()  # hung: the session is over for this EV
        await original(self, message)

    EVCCCommunicationSession.send = send  # type: ignore[method-assign]


def note_session_stop(closed: asyncio.Event) -> None:
    """Set ``closed`` when the EV's session stops (the SECC ended it: a fault at the
    charger), so the vehicle side does not wait for a SessionStopRes."""
    from iso15118.evcc.comm_session_handler import EVCCCommunicationSession

    original = EVCCCommunicationSession.stop

    async def stop(self: Any, reason: str) -> None:
        closed.set()
        await original(self, reason)

    EVCCCommunicationSession.stop = stop  # type: ignore[method-assign]


async def drive_one_session(spec: LoopbackSpec, interface: str) -> dict[str, Any]:
    apply_shared_settings()
    silent_s: list[float] = []
    closed = asyncio.Event()
    if spec.fault == "ev-silent":
        fall_silent_after(spec.fault_after_loops, silent_s, closed)
    elif spec.fault is not None:
        note_session_stop(closed)
    pki_path = use_ev_pki(spec)
    scale_ev_timeouts(spec.ev_timeout_scale)
    config = EVCCConfig(**evcc_settings(spec))
    config.load_raw_values()
    inner = make_codec(spec.codec)
    warm_up(inner)
    received: list[dict[str, Any]] = []
    stopped = asyncio.Event()

    def on_decoded(name: str, body: dict[str, Any]) -> None:
        received.append({"name": name, "body": body, "at": time.time()})
        if name == "SessionStopRes":
            stopped.set()

    handler = EVCCHandler(
        evcc_config=config,
        iface=interface,
        exi_codec=ObservingCodec(inner, on_decoded),
        ev_controller=ev_controller(config, spec),
    )
    driving = asyncio.create_task(handler.start())
    try:
        ended = [asyncio.ensure_future(e.wait()) for e in (stopped, closed)]
        done, pending = await asyncio.wait(
            ended, timeout=spec.session_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiting in pending:
            waiting.cancel()
        if not done:
            raise TimeoutError
    except TimeoutError:
        logger.error("no SessionStopRes within %.0f s", spec.session_timeout_s)
    driving.cancel()
    if pki_path is not None:
        remove_package_pki_path(pki_path)
    return {
        "completed": stopped.is_set(),
        "bidirectional": is_bpt(spec.protocol),
        "received": received,
        "silent_s": silent_s[0] if silent_s else None,
    }


if __name__ == "__main__":
    sys.exit(run_side("vehicle", drive_one_session))
