"""A DC power module on Modbus TCP (``pymodbus``), with the register map of
``v2g/hardware/README.md``.

The SECC's calls never wait for the network: ``set_dc``/``stop`` note the command and
``read`` returns the last measurement; ``run`` (a task of the station's) writes the
command with a heartbeat and reads the measurements every ``poll_s``. A module that
has not answered for ``fault_after_s`` is reported as faulted (the session then ends
with its output stopped and the contactors open); the module's own watchdog stops its
output when the heartbeat stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from v2g.hardware.seams import ModuleReading

logger = logging.getLogger(__name__)

#: Holding registers written by the SECC (README: "Register map").
REG_CONTROL, REG_VOLTAGE_SET, REG_CURRENT_SET, REG_HEARTBEAT = 0, 1, 2, 3
#: Holding registers the module updates.
REG_VOLTAGE, REG_CURRENT, REG_STATUS, REG_FAULT_CODE, REG_ISOLATION_KOHM = 10, 11, 12, 13, 14
MEASUREMENT_COUNT = 5
CONTROL_OFF, CONTROL_ON = 0, 1
STATUS_OUTPUT_ON, STATUS_FAULT, STATUS_ISOLATION_FAULT = 0x1, 0x2, 0x4
#: Register units: 0.1 V and 0.1 A (current signed, two's complement).
SCALE = 10.0
FAULT_CODES = {
    1: "over-temperature",
    2: "over-current",
    3: "output short circuit",
    4: "internal error",
}


def to_register(value: float) -> int:
    """A value in V or A as one 16-bit register (0.1 units, two's complement)."""
    scaled = round(value * SCALE)
    if not -32768 <= scaled <= 65535:
        raise ValueError(f"{value} does not fit one register at 0.1 units")
    return scaled & 0xFFFF


def signed(register: int) -> float:
    return (register - 0x10000 if register >= 0x8000 else register) / SCALE


@dataclass(frozen=True, slots=True)
class ModbusEndpoint:
    host: str
    port: int = 502
    unit: int = 1

    def __str__(self) -> str:
        return f"Modbus TCP {self.host}:{self.port} unit {self.unit}"


class ModbusPowerModule:
    """A ``PowerModule`` (DC only) reached over Modbus TCP."""

    def __init__(
        self,
        endpoint: ModbusEndpoint,
        poll_s: float = 0.05,
        fault_after_s: float = 0.5,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self._poll_s = poll_s
        self._fault_after_s = fault_after_s
        self._monotonic_s = monotonic_s
        self._control = CONTROL_OFF
        self._voltage_v = 0.0
        self._current_a = 0.0
        self._heartbeat = 0
        self._last_answer_s: float | None = None
        self._reading = ModuleReading(0.0, 0.0, 0.0, True, f"{endpoint}: not reached yet")

    # -- PowerModule ----------------------------------------------------------------

    def set_dc(self, voltage_v: float, current_a: float) -> None:
        to_register(voltage_v), to_register(current_a)  # refused now, not in the task
        self._control = CONTROL_ON
        self._voltage_v = max(0.0, voltage_v)
        self._current_a = current_a

    def set_ac_power(self, power_w: float) -> None:
        raise ValueError("a Modbus DC power module cannot supply an AC EVSE")

    def stop(self) -> None:
        self._current_a = 0.0

    def reset(self) -> None:
        self._control = CONTROL_OFF
        self._voltage_v = self._current_a = 0.0

    def read(self) -> ModuleReading:
        if self._last_answer_s is not None:
            silent_s = self._monotonic_s() - self._last_answer_s
            if silent_s > self._fault_after_s and self._reading.fault is None:
                self._reading = _with_fault(
                    self._reading,
                    f"power module fault: {self.endpoint} not answering for {silent_s:.2f} s",
                )
        return self._reading

    # -- the exchange with the module ------------------------------------------------

    async def run(self) -> None:
        """Exchange command and measurements every ``poll_s`` until cancelled."""
        client = AsyncModbusTcpClient(
            self.endpoint.host,
            port=self.endpoint.port,
            timeout=max(self._poll_s, self._fault_after_s / 2),
            retries=0,
            reconnect_delay=0,
        )
        try:
            while True:
                await self.poll_once(client)
                await asyncio.sleep(self._poll_s)
        finally:
            client.close()

    async def poll_once(self, client: AsyncModbusTcpClient) -> None:
        try:
            if not client.connected and not await client.connect():
                raise ConnectionError(f"{self.endpoint}: cannot connect")
            self._heartbeat = (self._heartbeat + 1) & 0xFFFF
            command = [
                self._control,
                to_register(self._voltage_v),
                to_register(self._current_a),
                self._heartbeat,
            ]
            unit = self.endpoint.unit
            written = await client.write_registers(REG_CONTROL, command, device_id=unit)
            measured = await client.read_holding_registers(
                REG_VOLTAGE, count=MEASUREMENT_COUNT, device_id=unit
            )
            if written.isError() or measured.isError():
                raise ModbusException(f"{self.endpoint}: exception response")
        except (ModbusException, ConnectionError, OSError, TimeoutError) as error:
            logger.debug("%s: no answer (%s)", self.endpoint, error)
            if self._last_answer_s is None:
                self._last_answer_s = self._monotonic_s()  # count from the first try
            return
        self._last_answer_s = self._monotonic_s()
        self._reading = reading_of(measured.registers)


def reading_of(registers: Sequence[int]) -> ModuleReading:
    """The measurements (REG_VOLTAGE onwards) as a ModuleReading."""
    voltage_v = registers[0] / SCALE
    current_a = signed(registers[1])
    status, code = registers[2], registers[3]
    fault = None
    if status & STATUS_FAULT:
        fault = f"power module fault: {FAULT_CODES.get(code, f'code {code}')}"
    isolation_ok = not status & STATUS_ISOLATION_FAULT
    return ModuleReading(voltage_v, current_a, voltage_v * current_a, isolation_ok, fault)


def _with_fault(reading: ModuleReading, fault: str) -> ModuleReading:
    return ModuleReading(
        reading.voltage_v, reading.current_a, reading.power_w, reading.isolation_ok, fault
    )
