"""Fakes of the hardware seams (``v2g.hardware.seams``) for tests: a power module
whose output is what it was told at once (or stuck), with faults on demand, and a
control pilot the test moves."""

from __future__ import annotations

from v2g.hardware.seams import ModuleReading, PilotState


class FakePowerModule:
    """Output equals its command at once; ``follows_stop=False``: a module that keeps
    its current when told to stop (stuck). ``fault``/``isolation_ok`` are set by the
    test."""

    def __init__(self, follows_stop: bool = True) -> None:
        self.follows_stop = follows_stop
        self.voltage_v = 0.0
        self.current_a = 0.0
        self.ac_power_w: float | None = None
        self.fault: str | None = None
        self.isolation_ok = True
        self.commands: list[str] = []

    def set_dc(self, voltage_v: float, current_a: float) -> None:
        self.commands.append(f"dc {voltage_v:g} V {current_a:g} A")
        self.voltage_v, self.current_a, self.ac_power_w = voltage_v, current_a, None

    def set_ac_power(self, power_w: float) -> None:
        self.commands.append(f"ac {power_w:g} W")
        self.ac_power_w = power_w

    def stop(self) -> None:
        self.commands.append("stop")
        if self.follows_stop:
            self.current_a = 0.0
            self.ac_power_w = None if self.ac_power_w is None else 0.0

    def reset(self) -> None:
        self.commands.append("reset")
        self.voltage_v = self.current_a = 0.0
        self.ac_power_w = None

    def read(self) -> ModuleReading:
        power_w = (
            self.ac_power_w if self.ac_power_w is not None else self.voltage_v * self.current_a
        )
        return ModuleReading(
            self.voltage_v, self.current_a, power_w, self.isolation_ok, self.fault
        )


class FakeControlPilot:
    """The pilot state the test sets; records the PWM and error states driven."""

    def __init__(self, state: PilotState = PilotState.A) -> None:
        self._state = state
        self.duty_cycles: list[float] = []
        self.errors: list[PilotState] = []

    def state(self) -> PilotState:
        return self._state

    def set_state(self, state: PilotState) -> None:
        self._state = state

    def duty_cycle_pct(self) -> float:
        return self.duty_cycles[-1] if self.duty_cycles else 100.0

    def set_pwm(self, duty_cycle_pct: float) -> None:
        self.duty_cycles.append(duty_cycle_pct)

    def signal_error(self, state: PilotState) -> None:
        self.errors.append(state)
