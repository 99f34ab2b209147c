"""The simulated hardware ``v2g secc`` uses by default (and in every test that needs no
real device): a power module whose present voltage and current ramp towards their
targets, contactors that switch at once, a meter fed by the module, a pilot held at a
state.

The iso15118 package's stock simulator keeps DC output at 1 V, so DC sessions stall in
PreCharge. Real power electronics ramp; this module does too, at configurable rates, so
DIN, -2 DC and -20 DC sessions complete against the EVCC.
"""

from __future__ import annotations

from collections.abc import Callable

from v2g.hardware.seams import (
    HLC_DUTY_CYCLE_PCT,
    MeterReading,
    ModuleReading,
    PilotState,
)


def _approach(present: float, target: float, max_step: float) -> float:
    if abs(target - present) <= max_step:
        return target
    return present + max_step if target > present else present - max_step


class SimulatedMeter:
    """Counts the energy the simulated module reports moving (Wh, charged and
    discharged apart)."""

    def __init__(self) -> None:
        self._charged_wh = 0.0
        self._discharged_wh = 0.0

    def add(self, energy_wh: float) -> None:
        if energy_wh >= 0:
            self._charged_wh += energy_wh
        else:
            self._discharged_wh -= energy_wh

    def read(self) -> MeterReading:
        return MeterReading(self._charged_wh, self._discharged_wh)


class SimulatedPowerModule:
    """DC output (or AC metering) of one EVSE, advanced on a monotonic clock in s.
    ``fault`` and ``isolation_ok`` can be set to simulate a module fault or an
    insulation failure; a faulted module drives its output to 0 at once."""

    def __init__(
        self,
        voltage_ramp_v_per_s: float,
        current_ramp_a_per_s: float,
        monotonic_s: Callable[[], float],
        meter: SimulatedMeter | None = None,
    ) -> None:
        self._voltage_ramp = voltage_ramp_v_per_s
        self._current_ramp = current_ramp_a_per_s
        self._monotonic_s = monotonic_s
        self._meter = meter or SimulatedMeter()
        self._last_s = monotonic_s()
        self._voltage_v = 0.0
        self._current_a = 0.0
        self._target_voltage_v = 0.0
        self._target_current_a = 0.0
        self._ac_power_w: float | None = None
        self.fault: str | None = None
        self.isolation_ok = True

    @property
    def meter(self) -> SimulatedMeter:
        return self._meter

    def set_dc(self, voltage_v: float, current_a: float) -> None:
        self._advance()
        self._ac_power_w = None
        self._target_voltage_v = max(0.0, voltage_v)
        self._target_current_a = current_a

    def set_ac_power(self, power_w: float) -> None:
        """An AC EVSE does not convert power; it meters what the EV's charger draws."""
        self._advance()
        self._ac_power_w = power_w

    def stop(self) -> None:
        self._advance()
        self._target_current_a = 0.0
        self._ac_power_w = None if self._ac_power_w is None else 0.0

    def reset(self) -> None:
        self._advance()
        self._voltage_v = self._current_a = 0.0
        self._target_voltage_v = self._target_current_a = 0.0
        self._ac_power_w = None

    def inject_fault(self, fault: str) -> None:
        """The module trips: its output is 0 at once (as a real module's on a fault)."""
        self._advance()
        self.fault = fault
        self._current_a = self._target_current_a = 0.0
        self._ac_power_w = None if self._ac_power_w is None else 0.0

    def read(self) -> ModuleReading:
        self._advance()
        return ModuleReading(
            self._voltage_v, self._current_a, self._power_w(), self.isolation_ok, self.fault
        )

    def _power_w(self) -> float:
        if self._ac_power_w is not None:
            return self._ac_power_w
        return self._voltage_v * self._current_a

    def _advance(self) -> None:
        now_s = self._monotonic_s()
        dt_s = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        self._meter.add(self._power_w() * dt_s / 3600.0)
        if self.fault is not None:  # a tripped module gives no output until reset
            self._current_a = self._target_current_a = 0.0
            self._ac_power_w = None if self._ac_power_w is None else 0.0
        self._voltage_v = _approach(
            self._voltage_v, self._target_voltage_v, self._voltage_ramp * dt_s
        )
        self._current_a = _approach(
            self._current_a, self._target_current_a, self._current_ramp * dt_s
        )


class SimulatedContactor:
    """Contactors that switch at once; counts how often they opened."""

    def __init__(self) -> None:
        self._closed = False
        self.openings = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def open(self) -> None:
        if self._closed:
            self.openings += 1
        self._closed = False


class SimulatedPilot:
    """A pilot held at a state (C by default: vehicle connected, ready to charge: what
    the SECC assumed before it had a pilot), changed by ``plug``/``set_state``."""

    def __init__(self, state: PilotState = PilotState.C) -> None:
        self._state = state
        self._duty_cycle_pct = HLC_DUTY_CYCLE_PCT
        self.error_signalled: PilotState | None = None

    def state(self) -> PilotState:
        return self._state

    def set_state(self, state: PilotState) -> None:
        self._state = state

    def duty_cycle_pct(self) -> float:
        return self._duty_cycle_pct

    def set_pwm(self, duty_cycle_pct: float) -> None:
        if not 0.0 <= duty_cycle_pct <= 100.0:
            raise ValueError(f"duty cycle must be within 0..100 %, not {duty_cycle_pct}")
        self._duty_cycle_pct = duty_cycle_pct

    def signal_error(self, state: PilotState) -> None:
        if not state.error:
            raise ValueError(f"an error is signalled with state E or F, not {state}")
        self.error_signalled = state
