"""SECC configuration: one charger (station) with one or more EVSEs, from TOML.

Keys carry their units (``max_charge_power_w``; every key in docs/configuration.md).
The loader checks everything at once and reports every problem together
(``v2g.config.ConfigError``), so a user fixes the file in one go.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

# Re-exported: the SECC code raises and catches the one configuration error.
from v2g.config import ConfigError as ConfigError  # noqa: PLC0414
from v2g.config import read_toml
from v2g.limits import Limit, PowerBounds

CurrentType = Literal["ac", "dc"]
ControlMode = Literal["dynamic", "scheduled"]
CodecName = Literal["java", "native"]

#: Protocol families the SECC can offer in SupportedAppProtocol, by product name.
PROTOCOL_FAMILIES = ("din", "iso2", "iso20")
#: V2G_SECC_Sequence_Timeout: 60 s in DIN SPEC 70121, ISO 15118-2 [V2G2-443] and
#: ISO 15118-20 (Table 215); the iso15118 package's own wait is this long too, so a
#: configured value may be shorter (tests), never longer.
SEQUENCE_TIMEOUT_S = 60.0

#: Energy transfer modes by their DIN SPEC 70121 / ISO 15118-2 names (EnergyTransferMode).
AC_MODES = ("AC_three_phase_core", "AC_single_phase_core")
DC_MODES = ("DC_extended", "DC_core", "DC_combo_core", "DC_unique")


def default_transfer_modes(current: str, phases: int) -> tuple[str, ...]:
    """What an EVSE offers unless configured: a three-phase AC EVSE also serves
    single-phase cars (on one of its phases); a DC EVSE every DC mode, extended first
    (the one DIN SPEC 70121, which offers a single mode, announces)."""
    if current == "dc":
        return DC_MODES
    return AC_MODES if phases == 3 else ("AC_single_phase_core",)


@dataclass(frozen=True, slots=True)
class EvseConfig:
    """One EVSE (one connector with its own PLC link) and its rated limits.

    ``max_discharge_power_w`` of 0 makes the EVSE unidirectional: it then offers no
    BPT service. ``fallback_power_w`` (>= 0) is what the EVSE runs at when its
    setpoint is missing or stale: it never discharges.
    """

    evse_id: str
    interface: str
    current: CurrentType
    max_charge_power_w: float
    max_discharge_power_w: float = 0.0
    min_charge_power_w: float = 0.0
    max_current_a: float = 32.0
    min_current_a: float = 0.0
    max_voltage_v: float = 500.0
    min_voltage_v: float = 150.0
    #: AC only: phase-to-neutral nominal voltage and phase count (no hidden 230 V).
    nominal_voltage_v: float = 230.0
    phases: int = 3
    nominal_frequency_hz: float = 50.0
    fallback_power_w: float = 0.0
    #: Control modes offered for ISO 15118-20, the preferred one first.
    control_modes: tuple[ControlMode, ...] = ("dynamic", "scheduled")
    protocols: tuple[str, ...] = PROTOCOL_FAMILIES
    #: DIN/-2 EnergyTransferMode names this EVSE offers, the preferred first (empty:
    #: ``default_transfer_modes``). DIN offers the first; -2 all; -20 the AC or DC
    #: service with one parameter set per connector (AC: single/three phase; DC: Core
    #: for DC_core, Extended for DC_extended).
    energy_transfer_modes: tuple[str, ...] = ()
    #: Simulated power stage: how fast present voltage and current follow targets.
    voltage_ramp_v_per_s: float = 2000.0
    current_ramp_a_per_s: float = 500.0
    #: ISO 15118-3 SLAC (v2g.slac) on this EVSE before SDP; the interface its raw
    #: frames use (empty: ``interface``) and the local modem's address for CM_SET_KEY.
    slac: bool = False
    slac_interface: str = ""
    slac_modem_mac: str = "00:b0:52:00:00:01"
    #: The power module: "simulated" (the ramp above) or "modbus" (a DC module on
    #: Modbus TCP at modbus_host:modbus_port, unit modbus_unit; v2g/hardware/README.md).
    power_module: str = "simulated"
    modbus_host: str = ""
    modbus_port: int = 502
    modbus_unit: int = 1

    def __post_init__(self) -> None:
        problems = _evse_problems(self)
        if problems:
            raise ConfigError(problems)
        if not self.energy_transfer_modes:
            modes = default_transfer_modes(self.current, self.phases)
            object.__setattr__(self, "energy_transfer_modes", modes)

    @property
    def is_bidirectional(self) -> bool:
        return self.max_discharge_power_w > 0

    def rated_bounds(self, bidirectional_session: bool) -> PowerBounds:
        """What the EVSE hardware allows in a session; no discharge outside BPT."""
        discharge_w = self.max_discharge_power_w if bidirectional_session else 0.0
        return PowerBounds(
            Limit(0.0 - discharge_w, f"EVSE {self.evse_id} rated discharge"),
            Limit(self.max_charge_power_w, f"EVSE {self.evse_id} rated charge"),
        )

    @property
    def fallback(self) -> Limit:
        return Limit(self.fallback_power_w, f"EVSE {self.evse_id} fallback")


def _module_problems(evse: EvseConfig, where: str) -> list[str]:
    if evse.power_module not in ("simulated", "modbus"):
        return [
            f"{where}: power_module must be 'simulated' or 'modbus', got {evse.power_module!r}"
        ]
    if evse.power_module == "simulated":
        return []
    problems = []
    if evse.current != "dc":
        problems.append(f"{where}: power_module 'modbus' drives a DC module; current must be 'dc'")
    if not isinstance(evse.modbus_host, str) or not evse.modbus_host:
        problems.append(f"{where}: power_module 'modbus' needs modbus_host")
    if not isinstance(evse.modbus_port, int) or not 1 <= evse.modbus_port <= 65535:
        problems.append(f"{where}: modbus_port must be 1..65535, got {evse.modbus_port!r}")
    if not isinstance(evse.modbus_unit, int) or not 0 <= evse.modbus_unit <= 247:
        problems.append(f"{where}: modbus_unit must be 0..247, got {evse.modbus_unit!r}")
    return problems


def _evse_problems(evse: EvseConfig) -> list[str]:
    where = f"evse {evse.evse_id or '?'}"
    problems: list[str] = _module_problems(evse, where)
    if not evse.evse_id:
        problems.append(f"{where}: evse_id must not be empty")
    if not evse.interface:
        problems.append(f"{where}: interface must name a network interface")
    if evse.current not in ("ac", "dc"):
        problems.append(f"{where}: current must be 'ac' or 'dc', got {evse.current!r}")
    for f in fields(evse):
        value = getattr(evse, f.name)
        is_number = isinstance(value, float | int) and not isinstance(value, bool)
        if is_number and (not math.isfinite(value) or value < 0):
            problems.append(f"{where}: {f.name} must be a finite number >= 0, got {value}")
    if evse.min_charge_power_w > evse.max_charge_power_w:
        problems.append(f"{where}: min_charge_power_w exceeds max_charge_power_w")
    if evse.min_voltage_v > evse.max_voltage_v:
        problems.append(f"{where}: min_voltage_v exceeds max_voltage_v")
    if evse.phases not in (1, 3):
        problems.append(f"{where}: phases must be 1 or 3, got {evse.phases}")
    if not evse.control_modes or any(
        m not in ("dynamic", "scheduled") for m in evse.control_modes
    ):
        problems.append(f"{where}: control_modes must list 'dynamic' and/or 'scheduled'")
    unknown = [p for p in evse.protocols if p not in PROTOCOL_FAMILIES]
    if unknown or not evse.protocols:
        problems.append(f"{where}: protocols must be among {PROTOCOL_FAMILIES}, got {unknown}")
    if evse.current == "ac" and evse.protocols == ("din",):
        problems.append(f"{where}: DIN SPEC 70121 is DC only; an AC EVSE cannot offer only 'din'")
    if not isinstance(evse.slac, bool):
        problems.append(f"{where}: slac must be true or false, got {evse.slac!r}")
    if not _is_mac(evse.slac_modem_mac):
        problems.append(f"{where}: slac_modem_mac must look like 00:b0:52:00:00:01")
    return problems + _transfer_mode_problems(evse, where)


def _transfer_mode_problems(evse: EvseConfig, where: str) -> list[str]:
    modes = evse.energy_transfer_modes
    if not modes:
        return []
    key = f"{where}: energy_transfer_modes"
    unknown = [m for m in modes if m not in AC_MODES + DC_MODES]
    if unknown:
        return [f"{key}: unknown {unknown}; choose among {AC_MODES + DC_MODES}"]
    problems: list[str] = []
    if len(set(modes)) != len(modes):
        problems.append(f"{key} lists a mode twice: {list(modes)}")
    if evse.current in ("ac", "dc"):
        foreign = [m for m in modes if m not in (AC_MODES if evse.current == "ac" else DC_MODES)]
        if foreign:
            problems.append(f"{key}: {foreign} cannot be offered by a {evse.current.upper()} EVSE")
    if evse.current == "ac" and evse.phases == 1 and "AC_three_phase_core" in modes:
        problems.append(f"{key}: AC_three_phase_core needs phases = 3")
    dc_20 = {"DC_core", "DC_extended"} & set(modes)
    if evse.current == "dc" and "iso20" in evse.protocols and not dc_20:
        problems.append(
            f"{key}: ISO 15118-20 has a DC connector for DC_core and DC_extended only; "
            "list one of them or leave 'iso20' out of protocols"
        )
    return problems


def _is_mac(text: object) -> bool:
    parts = text.split(":") if isinstance(text, str) else []
    hexdigits = set("0123456789abcdefABCDEF")
    return len(parts) == 6 and all(len(p) == 2 and set(p) <= hexdigits for p in parts)


@dataclass(frozen=True, slots=True)
class SeccConfig:
    """The SECC runtime: its EVSEs, the EXI codec and, optionally, a PKI folder.

    Without ``pki_dir`` the SECC offers only External Identification Means (EIM):
    offering Plug & Charge without TLS certificates makes the EV pick it and the
    session fail (trap in iso15118 0.31.2).
    """

    evses: tuple[EvseConfig, ...]
    codec: CodecName = "native"
    pki_dir: Path | None = None
    log_level: str = "INFO"
    #: SCHED_FIFO priority (1-99) for the SECC's event loop, None: normal scheduling
    #: (see ``v2g.secc.priority``).
    realtime_priority: int | None = None
    #: How long the SECC waits for the EV's next whole request after its response
    #: before it ends the session and frees the EVSE (V2G_SECC_Sequence_Timeout).
    sequence_timeout_s: float = SEQUENCE_TIMEOUT_S

    def __post_init__(self) -> None:
        problem = sequence_timeout_problem(self.sequence_timeout_s)
        if problem:
            raise ConfigError([problem])


def sequence_timeout_problem(value: object) -> str | None:
    """Why ``value`` cannot be the sequence timeout, or None."""
    is_number = isinstance(value, float | int) and not isinstance(value, bool)
    if not is_number or not 0 < value <= SEQUENCE_TIMEOUT_S:  # type: ignore[operator]
        return (
            f"sequence_timeout_s must be a number of seconds in (0, {SEQUENCE_TIMEOUT_S:g}] "
            f"(V2G_SECC_Sequence_Timeout), got {value!r}"
        )
    return None


_EVSE_KEYS = {f.name for f in fields(EvseConfig)}
_TUPLE_KEYS = {"control_modes", "protocols", "energy_transfer_modes"}


def parse_secc_config(data: Mapping[str, Any]) -> SeccConfig:
    """Build a SeccConfig from parsed TOML, collecting every problem before failing."""
    problems: list[str] = []
    known_top = {
        "evse",
        "codec",
        "pki_dir",
        "log_level",
        "realtime_priority",
        "sequence_timeout_s",
    }
    problems += [f"unknown key {key!r}" for key in data if key not in known_top]
    raw_evses = data.get("evse", [])
    if not isinstance(raw_evses, list) or not raw_evses:
        problems.append("at least one [[evse]] table is required")
        raw_evses = []
    evses: list[EvseConfig] = []
    for index, raw in enumerate(raw_evses):
        where = f"evse[{index}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        unknown = sorted(set(raw) - _EVSE_KEYS)
        problems += [f"{where}: unknown key {key!r}" for key in unknown]
        missing = [
            k for k in ("evse_id", "interface", "current", "max_charge_power_w") if k not in raw
        ]
        problems += [f"{where}: missing key {key!r}" for key in missing]
        if unknown or missing:
            continue
        not_lists = [k for k in _TUPLE_KEYS & set(raw) if not isinstance(raw[k], list)]
        problems += [f"{where}: {key} must be a list of names" for key in sorted(not_lists)]
        if not_lists:
            continue
        values: dict[str, Any] = {k: tuple(v) if k in _TUPLE_KEYS else v for k, v in raw.items()}
        try:
            evses.append(EvseConfig(**values))
        except ConfigError as error:
            problems += error.problems
        except TypeError as error:
            problems.append(f"{where}: {error}")
    ids = [e.evse_id for e in evses]
    problems += [
        f"evse_id {i!r} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    codec = data.get("codec", "native")
    if codec not in ("java", "native"):
        problems.append(f"codec must be 'java' or 'native', got {codec!r}")
    pki_dir = data.get("pki_dir")
    if pki_dir is not None and not Path(pki_dir).is_dir():
        problems.append(f"pki_dir {pki_dir!r} is not a directory")
    priority = data.get("realtime_priority")
    if priority is not None and (
        not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 99
    ):
        problems.append(f"realtime_priority must be a whole number from 1 to 99, got {priority!r}")
    sequence_timeout_s = data.get("sequence_timeout_s", SEQUENCE_TIMEOUT_S)
    problem = sequence_timeout_problem(sequence_timeout_s)
    if problem:
        problems.append(problem)
    if problems:
        raise ConfigError(problems)
    return SeccConfig(
        evses=tuple(evses),
        codec=codec,
        pki_dir=Path(pki_dir) if pki_dir else None,
        log_level=str(data.get("log_level", "INFO")),
        realtime_priority=priority,
        sequence_timeout_s=float(sequence_timeout_s),
    )


def load_secc_config(path: Path) -> SeccConfig:
    """Read and validate a charger TOML file (see examples/charger.toml)."""
    return parse_secc_config(read_toml(path))
