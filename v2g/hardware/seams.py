"""Small Protocols for the parts of a charger the SECC drives: what a board maker
implements to put ``v2g secc`` on real hardware.

All methods are synchronous and never block: an implementation that talks to a device
over a bus or a network keeps its last reading and its pending command locally and
exchanges them with the device in a task of its own (``run``), so the charge loop never
waits for the device (see ``v2g.hardware.modbus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class PilotState(StrEnum):
    """IEC 61851-1 control pilot states, as the EVSE measures them: A no vehicle, B
    vehicle connected (not ready), C ready (energy allowed), D ready with ventilation,
    E no pilot (short or EVSE error), F EVSE not available (-12 V)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def plugged(self) -> bool:
        return self in (PilotState.B, PilotState.C, PilotState.D)

    @property
    def energy_allowed(self) -> bool:
        return self in (PilotState.C, PilotState.D)

    @property
    def error(self) -> bool:
        return self in (PilotState.E, PilotState.F)


#: IEC 61851-1 Annex A: a 5 % duty cycle tells the EV that digital (high-level)
#: communication is required; 100 % is the steady +12 V of state A/B without PWM.
HLC_DUTY_CYCLE_PCT = 5.0
NO_PWM_DUTY_CYCLE_PCT = 100.0


class ControlPilot(Protocol):
    """The pilot line: the state the EV presents and the PWM the EVSE generates."""

    def state(self) -> PilotState: ...

    def duty_cycle_pct(self) -> float:
        """The duty cycle the EVSE generates now (%)."""
        ...

    def set_pwm(self, duty_cycle_pct: float) -> None: ...

    def signal_error(self, state: PilotState) -> None:
        """Drive the pilot to E (0 V) or F (-12 V): the EVSE is not available."""
        ...


@dataclass(frozen=True, slots=True)
class ModuleReading:
    """What a power module measures now: DC voltage (V), current (A, + = into the EV)
    and power (W), whether its isolation monitor finds the output isolated, and the
    fault that stopped it (None: none)."""

    voltage_v: float
    current_a: float
    power_w: float
    isolation_ok: bool = True
    fault: str | None = None


class PowerModule(Protocol):
    """A DC power module (or, for AC, the metered supply the EV's charger draws from)."""

    def set_dc(self, voltage_v: float, current_a: float) -> None:
        """Steer the output towards a voltage (V) and signed current (A)."""
        ...

    def set_ac_power(self, power_w: float) -> None:
        """AC: the power (W) the EV's charger is allowed to draw."""
        ...

    def stop(self) -> None:
        """Current (and AC power) to 0; the voltage stays until ``reset``."""
        ...

    def reset(self) -> None:
        """Output off for a new session (voltage and current targets 0)."""
        ...

    def read(self) -> ModuleReading: ...


class Contactor(Protocol):
    """The output contactors between the module and the cable."""

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...

    def open(self) -> None: ...


@dataclass(frozen=True, slots=True)
class MeterReading:
    """Energy through the EVSE's meter since it was installed (Wh)."""

    charged_wh: float
    discharged_wh: float


class Meter(Protocol):
    def read(self) -> MeterReading: ...
