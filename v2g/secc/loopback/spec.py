"""What one loopback session runs with, passed from ``v2g loopback`` to its two sides."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from v2g.secc.config import AC_MODES, DC_MODES, CodecName, ControlMode, EvseConfig
from v2g.secc.loopback import FAULT_AFTER_LOOPS, FAULTS, PROTOCOLS, is_ac, is_bpt


@dataclass(frozen=True, slots=True)
class SetpointChange:
    """Post ``power_w`` to the mailbox right after the ``after_loops``-th charge-loop
    response, to show that the next response follows it."""

    after_loops: int
    power_w: float


@dataclass(frozen=True, slots=True)
class LoopbackSpec:
    protocol: str
    control: ControlMode = "dynamic"
    codec: str = "native"
    setpoint_w: float | None = None
    setpoint_valid_s: float = 3600.0
    changes: tuple[SetpointChange, ...] = ()
    charge_loop_cycles: int = 10
    #: Factor on the EVCC's message timeouts (1.0 = the standards' values). The Java
    #: codec is slow enough here that DIN and -20 DC_BPT can miss them; tests that
    #: raise this say so.
    ev_timeout_scale: float = 1.0
    session_timeout_s: float = 120.0
    extra_env: dict[str, str] = field(default_factory=dict)
    #: PKI folder (``v2g pki init``): the SECC serves TLS and Plug & Charge from it.
    pki_dir: str | None = None
    #: The EV's certificates, if not those of ``pki_dir`` (negative tests).
    ev_pki_dir: str | None = None
    #: The EV asks for -2 contract certificate installation before Plug & Charge.
    cert_install: bool = False
    #: -20: the EV presents its vehicle certificate in the TLS 1.3 handshake.
    ev_certificate: bool = True
    #: DIN/-2: the EnergyTransferMode the EV asks for (None: three-phase AC, DC
    #: extended); the EVSE offers its default modes (``default_transfer_modes``).
    energy_transfer_mode: str | None = None
    #: The EVSE's ``energy_transfer_modes`` (empty: its defaults).
    evse_energy_transfer_modes: tuple[str, ...] = ()
    #: The SECC forwards the installation over OCPP (Get15118EVCertificate) to a CSMS
    #: in the charger's namespace whose contract provider is ``pki_dir``.
    ocpp_installation: bool = False
    #: Seconds the EV waits between charge-loop requests (0: none), so a session lasts
    #: long enough for what happens around it (a CSMS going away). Under 0.5 s for -20:
    #: the SECC ends a charge loop silent for longer (ISO 15118-20 Tables 216/217).
    charge_loop_delay_s: float = 0.0
    #: A fault injected after ``fault_after_loops`` charge-loop requests (``FAULTS``):
    #: the EV falls silent, is unplugged (pilot A), the module trips, or the isolation
    #: monitor fails. After 0 charge-loop requests is during PreCharge (DC): the
    #: charger's faults come right after the first PreCharge answer.
    fault: str | None = None
    fault_after_loops: int = FAULT_AFTER_LOOPS

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}"
            )
        if self.cert_install and not self.protocol.startswith("iso2-"):
            raise ValueError("certificate installation is offered for ISO 15118-2 only")
        if self.ocpp_installation and not self.cert_install:
            raise ValueError("ocpp_installation forwards a certificate installation: cert_install")
        if (self.cert_install or self.ev_pki_dir) and not self.pki_dir:
            raise ValueError("certificate installation and an EV PKI need pki_dir")
        mode = self.energy_transfer_mode
        if mode is not None and (
            self.protocol.startswith("iso20")
            or mode not in (AC_MODES if is_ac(self.protocol) else DC_MODES)
        ):
            raise ValueError(f"{self.protocol} cannot ask for energy transfer mode {mode!r}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; choose one of {', '.join(FAULTS)}")
        if self.fault is not None and self.charge_loop_cycles <= self.fault_after_loops:
            raise ValueError(
                f"a fault comes after {self.fault_after_loops} charge-loop requests: "
                f"the EV must send more than that (charge_loop_cycles)"
            )
        if self.fault_after_loops < 0:
            raise ValueError(f"fault_after_loops must be >= 0, got {self.fault_after_loops}")
        if self.fault_after_loops == 0 and self.fault is not None:
            if is_ac(self.protocol):
                raise ValueError(f"{self.protocol} has no PreCharge: a fault in it needs DC")
            if self.fault == "ev-silent":
                raise ValueError("ev-silent is injected in the charge loop, not in PreCharge")
        if self.control not in ("dynamic", "scheduled"):
            raise ValueError(f"control must be 'dynamic' or 'scheduled', got {self.control!r}")

    @property
    def ev_pki(self) -> str | None:
        return self.ev_pki_dir or self.pki_dir

    @property
    def codec_name(self) -> CodecName:
        return "native" if self.codec == "native" else "java"

    def evse(self, interface: str) -> EvseConfig:
        """The EVSE the loopback SECC runs: AC or DC as the protocol needs, bidirectional
        for BPT, with the chosen control mode offered first."""
        ac = is_ac(self.protocol)
        other: ControlMode = "scheduled" if self.control == "dynamic" else "dynamic"
        return EvseConfig(
            evse_id="DE*V2G*E0001",
            interface=interface,
            current="ac" if ac else "dc",
            max_charge_power_w=11_000.0,
            max_discharge_power_w=11_000.0 if is_bpt(self.protocol) else 0.0,
            max_current_a=16.0 if ac else 100.0,
            control_modes=(self.control, other),
            # Without a setpoint the loopback charges at the EVSE's full power.
            fallback_power_w=11_000.0,
            energy_transfer_modes=tuple(self.evse_energy_transfer_modes),
        )

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> LoopbackSpec:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["changes"] = tuple(SetpointChange(**c) for c in data.get("changes", ()))
        return cls(**data)


SideSession = Callable[[LoopbackSpec, str], Coroutine[Any, Any, dict[str, Any]]]


def run_side(name: str, session: SideSession) -> int:
    """Entry point of one loopback side: ``python -m ... SPEC.json INTERFACE RESULT.json``.
    Logs go to stderr (prefixed with ``name``); what the side saw goes to RESULT.json."""
    from v2g.log_setup import configure_logging

    spec_path, interface, result_path = sys.argv[1:]
    spec = LoopbackSpec.read(Path(spec_path))
    configure_logging("INFO", prefix=f"{name} ")
    result = asyncio.run(session(spec, interface))
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0
