"""The EVSE's power stage as the controller drives it: a power module, the output
contactors and the meter (``v2g.hardware.seams``), simulated by default.

The stage keeps the controller's view simple (command, stop, read) and owns the one
sequence that must always hold when a session ends: output current to (almost) zero,
then contactors open, before anything else happens (``bring_to_rest``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from v2g.hardware.seams import Contactor, Meter, MeterReading, PowerModule
from v2g.hardware.simulated import SimulatedContactor, SimulatedMeter, SimulatedPowerModule
from v2g.secc.config import EvseConfig

logger = logging.getLogger(__name__)

#: Contactors open once the output current is at most this (A): opening under load
#: wears them and arcs. (IEC 61851-23 lets a DC EVSE open them once current is low;
#: the value here is the product's, kept well under PreCharge's 2 A.)
OPEN_AT_CURRENT_A = 1.0
#: How often the output is read while it ramps down (s).
_POLL_S = 0.005


@dataclass(frozen=True, slots=True)
class StageReading:
    """What the stage outputs now: DC voltage in V, current in A (+ = into the EV),
    and the resulting power in W, plus the energy it moved so far in Wh."""

    voltage_v: float
    current_a: float
    power_w: float
    charged_wh: float
    discharged_wh: float


class PowerStage:
    """One EVSE's module, contactors and meter."""

    def __init__(self, module: PowerModule, contactor: Contactor, meter: Meter) -> None:
        self.module = module
        self.contactor = contactor
        self.meter = meter
        #: The monotonic second (s) the output was last brought to rest (current at
        #: most OPEN_AT_CURRENT_A, contactors open); None: not since it last closed.
        self.at_rest_since_s: float | None = None

    @classmethod
    def simulated(
        cls,
        voltage_ramp_v_per_s: float,
        current_ramp_a_per_s: float,
        monotonic_s: Callable[[], float],
    ) -> PowerStage:
        meter = SimulatedMeter()
        module = SimulatedPowerModule(
            voltage_ramp_v_per_s, current_ramp_a_per_s, monotonic_s, meter
        )
        return cls(module, SimulatedContactor(), meter)

    @classmethod
    def for_evse(cls, evse: EvseConfig, monotonic_s: Callable[[], float]) -> PowerStage:
        """The stage ``evse``'s ``power_module`` names. A Modbus module is metered from
        its own measurements (contactors simulated: the board's I/O is the next seam)."""
        if evse.power_module != "modbus":
            return cls.simulated(evse.voltage_ramp_v_per_s, evse.current_ramp_a_per_s, monotonic_s)
        from v2g.hardware.modbus import ModbusEndpoint, ModbusPowerModule

        module = ModbusPowerModule(
            ModbusEndpoint(evse.modbus_host, evse.modbus_port, evse.modbus_unit)
        )
        return cls(module, SimulatedContactor(), _MeasuringMeter(module, monotonic_s))

    async def run(self) -> None:
        """The module's exchange with its device, if it has one (until cancelled)."""
        run = getattr(self.module, "run", None)
        if run is not None:
            await run()

    def close_contactors(self) -> None:
        self.contactor.close()
        self.at_rest_since_s = None

    def open_now(self) -> float:
        """Output off and contactors open at once (unplug, pilot error, a fault); the
        current (A) that was flowing as they opened."""
        current_a = self.module.read().current_a
        self.module.reset()
        self._open()
        return current_a

    def _open(self) -> None:
        self.contactor.open()
        if abs(self.module.read().current_a) <= OPEN_AT_CURRENT_A:
            self.at_rest_since_s = self.at_rest_since_s or time.monotonic()

    def command_dc(self, target_voltage_v: float, target_current_a: float) -> None:
        """Steer DC output towards a voltage (V) and signed current (A, + = charging);
        the contactors close for it (CableCheck's isolation test already needs them)."""
        self.close_contactors()
        self.module.set_dc(target_voltage_v, target_current_a)

    def command_ac(self, power_w: float) -> None:
        """An AC EVSE does not convert power; it meters what the EV's charger draws."""
        self.close_contactors()
        self.module.set_ac_power(power_w)

    def stop(self) -> None:
        """Current to zero (contactors open at the end of the session)."""
        self.module.stop()

    def reset(self) -> None:
        """A new session: output off, meters keep counting (they are the EVSE's)."""
        self.module.reset()

    def read(self) -> StageReading:
        module = self.module.read()
        meter = self.meter.read()
        return StageReading(
            module.voltage_v,
            module.current_a,
            module.power_w,
            meter.charged_wh,
            meter.discharged_wh,
        )

    @property
    def fault(self) -> str | None:
        """Why the module stopped itself, or why it cannot be trusted (None: neither)."""
        reading = self.module.read()
        if reading.fault is not None:
            return reading.fault
        if not reading.isolation_ok:
            return "isolation fault: the isolation monitor finds the output not isolated"
        return None

    @property
    def at_rest(self) -> bool:
        """Output current at most OPEN_AT_CURRENT_A and the contactors open."""
        return abs(self.module.read().current_a) <= OPEN_AT_CURRENT_A and not (
            self.contactor.closed
        )

    async def bring_to_rest(self, limit_s: float) -> float:
        """Stop the output, wait (up to ``limit_s``, on the event loop's clock) until
        its current is at most OPEN_AT_CURRENT_A, then open the contactors; the seconds
        it took. Past the limit (a module that does not follow), the contactors open
        anyway: the session must end, and a stuck module is reported."""
        started_s = time.monotonic()
        self.module.stop()
        while abs(current_a := self.module.read().current_a) > OPEN_AT_CURRENT_A:
            if time.monotonic() - started_s >= limit_s:
                logger.error(
                    "output still at %.1f A after %.2f s: contactors opened under load",
                    current_a,
                    limit_s,
                )
                break
            await asyncio.sleep(_POLL_S)
        self._open()
        return time.monotonic() - started_s


class _MeasuringMeter:
    """Energy integrated from a module's measured power (Wh): for modules without a
    meter of their own in the seam."""

    def __init__(self, module: PowerModule, monotonic_s: Callable[[], float]) -> None:
        self._module = module
        self._monotonic_s = monotonic_s
        self._last_s = monotonic_s()
        self._inner = SimulatedMeter()

    def read(self) -> MeterReading:
        now_s = self._monotonic_s()
        self._inner.add(self._module.read().power_w * (now_s - self._last_s) / 3600.0)
        self._last_s = now_s
        return self._inner.read()
