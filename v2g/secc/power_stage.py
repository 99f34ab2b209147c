"""A simulated power stage: present voltage and current that ramp towards targets.

The iso15118 package's stock simulator keeps DC output at 1 V, so DC sessions stall
in PreCharge. Real power electronics ramp; this one does too, at configurable
rates, so DIN, -2 DC and -20 DC sessions complete against the EVCC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StageReading:
    """What the stage outputs now: DC voltage in V, current in A (+ = into the EV),
    and the resulting power in W, plus the energy it moved so far in Wh."""

    voltage_v: float
    current_a: float
    power_w: float
    charged_wh: float
    discharged_wh: float


def _approach(present: float, target: float, max_step: float) -> float:
    if abs(target - present) <= max_step:
        return target
    return present + max_step if target > present else present - max_step


class SimulatedPowerStage:
    """DC output (or AC metering) of one EVSE, advanced on a monotonic clock in s."""

    def __init__(
        self,
        voltage_ramp_v_per_s: float,
        current_ramp_a_per_s: float,
        monotonic_s: Callable[[], float],
    ) -> None:
        self._voltage_ramp = voltage_ramp_v_per_s
        self._current_ramp = current_ramp_a_per_s
        self._monotonic_s = monotonic_s
        self._last_s = monotonic_s()
        self._voltage_v = 0.0
        self._current_a = 0.0
        self._target_voltage_v = 0.0
        self._target_current_a = 0.0
        self._ac_power_w: float | None = None
        self._charged_wh = 0.0
        self._discharged_wh = 0.0

    def command_dc(self, target_voltage_v: float, target_current_a: float) -> None:
        """Steer DC output towards a voltage (V) and signed current (A, + = charging)."""
        self._advance()
        self._ac_power_w = None
        self._target_voltage_v = max(0.0, target_voltage_v)
        self._target_current_a = target_current_a

    def command_ac(self, power_w: float) -> None:
        """An AC EVSE does not convert power; it meters what the EV's charger draws."""
        self._advance()
        self._ac_power_w = power_w

    def stop(self) -> None:
        """Current to zero (contactors open at the end of the session)."""
        self._advance()
        self._target_current_a = 0.0
        self._ac_power_w = None if self._ac_power_w is None else 0.0

    def reset(self) -> None:
        """A new session: output off, meters keep counting (they are the EVSE's)."""
        self._advance()
        self._voltage_v = self._current_a = 0.0
        self._target_voltage_v = self._target_current_a = 0.0
        self._ac_power_w = None

    def read(self) -> StageReading:
        self._advance()
        return StageReading(
            self._voltage_v,
            self._current_a,
            self._power_w(),
            self._charged_wh,
            self._discharged_wh,
        )

    def _power_w(self) -> float:
        if self._ac_power_w is not None:
            return self._ac_power_w
        return self._voltage_v * self._current_a

    def _advance(self) -> None:
        now_s = self._monotonic_s()
        dt_s = max(0.0, now_s - self._last_s)
        self._last_s = now_s
        energy_wh = self._power_w() * dt_s / 3600.0
        if energy_wh >= 0:
            self._charged_wh += energy_wh
        else:
            self._discharged_wh -= energy_wh
        self._voltage_v = _approach(
            self._voltage_v, self._target_voltage_v, self._voltage_ramp * dt_s
        )
        self._current_a = _approach(
            self._current_a, self._target_current_a, self._current_ramp * dt_s
        )
