"""A DC power module simulated on pymodbus's own Modbus TCP server, with the register
map of ``v2g/hardware/README.md``: its output follows the SECC's command at a ramp,
its watchdog stops the output when the heartbeat stops, and a test can trip it, fail
its isolation or make it stop answering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from v2g.hardware import modbus as m

_REGISTERS = 20


class SimulatedModbusModule:
    def __init__(
        self,
        host: str,
        port: int,
        unit: int = 1,
        current_ramp_a_per_s: float = 500.0,
        watchdog_s: float = 0.5,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = (host, port)
        self.unit = unit
        self._ramp = current_ramp_a_per_s
        self._watchdog_s = watchdog_s
        self._monotonic_s = monotonic_s
        self._last_s = monotonic_s()
        self._heartbeat_s = monotonic_s()
        self._heartbeat = -1
        self.voltage_v = 0.0
        self.current_a = 0.0
        self.fault_code = 0
        self.isolation_ok = True
        self.silent = False
        self.writes = 0
        device = SimDevice(
            id=unit,
            simdata=[SimData(address=0, count=_REGISTERS, values=0, datatype=DataType.REGISTERS)],
            action=self._action,
        )
        self._server = ModbusTcpServer(device, address=self.address)

    async def start(self) -> None:
        await self._server.serve_forever(background=True)

    async def stop(self) -> None:
        self.silent = False
        await self._server.shutdown()  # type: ignore[no-untyped-call]

    def trip(self, code: int = 1) -> None:
        """A module fault (README: fault codes): its output drops to 0 at once."""
        self.fault_code = code
        self.current_a = 0.0

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        while self.silent:  # the module hangs: requests are never answered
            await asyncio.sleep(0.05)
        if set_values is not None and address == m.REG_CONTROL:
            self.writes += 1
            self._command([int(v) for v in set_values])
        self._advance(registers, start_address)

    def _command(self, values: list[int]) -> None:
        if values[m.REG_HEARTBEAT] != self._heartbeat:
            self._heartbeat = values[m.REG_HEARTBEAT]
            self._heartbeat_s = self._monotonic_s()
        self._on = values[m.REG_CONTROL] == m.CONTROL_ON
        self._target_v = values[m.REG_VOLTAGE_SET] / m.SCALE
        self._target_a = m.signed(values[m.REG_CURRENT_SET])

    def _advance(self, registers: list[int], start: int) -> None:
        now_s = self._monotonic_s()
        step_a = self._ramp * (now_s - self._last_s)
        self._last_s = now_s
        alive = now_s - self._heartbeat_s <= self._watchdog_s
        on = getattr(self, "_on", False) and alive and not self.fault_code
        target_a = self._target_a if on else 0.0
        self.voltage_v = self._target_v if on else self.voltage_v
        delta = max(-step_a, min(step_a, target_a - self.current_a))
        self.current_a = 0.0 if self.fault_code else self.current_a + delta
        status = (m.STATUS_OUTPUT_ON if on else 0) | (m.STATUS_FAULT if self.fault_code else 0)
        status |= 0 if self.isolation_ok else m.STATUS_ISOLATION_FAULT
        values = {
            m.REG_VOLTAGE: m.to_register(self.voltage_v),
            m.REG_CURRENT: m.to_register(self.current_a),
            m.REG_STATUS: status,
            m.REG_FAULT_CODE: self.fault_code,
            m.REG_ISOLATION_KOHM: 1000 if self.isolation_ok else 10,
        }
        for register, value in values.items():
            registers[register - start] = value
