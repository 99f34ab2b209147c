"""The Modbus TCP DC power module against pymodbus's own server simulating a module
(``v2g.testing.modbus_module``), over real TCP on the loopback interface."""

from __future__ import annotations

import asyncio
import socket

import pytest

from v2g.hardware.modbus import ModbusEndpoint, ModbusPowerModule, reading_of, to_register
from v2g.hardware.simulated import SimulatedContactor, SimulatedMeter
from v2g.secc.power_stage import PowerStage
from v2g.testing.modbus_module import SimulatedModbusModule


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def rig():
    port = free_port()
    simulated = SimulatedModbusModule("127.0.0.1", port, unit=3)
    await simulated.start()
    module = ModbusPowerModule(ModbusEndpoint("127.0.0.1", port, 3), poll_s=0.02)
    task = asyncio.create_task(module.run())
    yield simulated, module
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await simulated.stop()


async def until(condition, limit_s: float = 3.0) -> None:
    async with asyncio.timeout(limit_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_the_module_follows_the_command_and_reports_its_measurements(rig):
    _, module = rig
    await until(lambda: module.read().fault is None)
    module.set_dc(400.0, 50.0)
    await until(lambda: module.read().current_a == 50.0)
    reading = module.read()
    assert reading.voltage_v == 400.0 and reading.power_w == 20000.0
    module.set_dc(400.0, -30.0)  # discharge: signed current in two's complement
    await until(lambda: module.read().current_a == -30.0)


async def test_a_module_fault_is_reported_with_its_cause(rig):
    simulated, module = rig
    module.set_dc(400.0, 50.0)
    await until(lambda: module.read().current_a == 50.0)
    simulated.trip(code=1)
    await until(lambda: module.read().fault is not None)
    assert module.read().fault == "power module fault: over-temperature"
    assert module.read().current_a == 0.0


async def test_an_isolation_fault_is_reported(rig):
    simulated, module = rig
    await until(lambda: module.read().fault is None)
    simulated.isolation_ok = False
    await until(lambda: not module.read().isolation_ok)


async def test_a_module_that_stops_answering_is_a_fault_and_the_stage_stops_safely(rig):
    """No answer for fault_after_s (0.5 s): a fault. The stage opens the contactors
    (after its ramp-down limit, as the current cannot be known), and the module's
    watchdog, its heartbeat gone, has stopped the output by itself."""
    simulated, module = rig
    stage = PowerStage(module, SimulatedContactor(), SimulatedMeter())
    stage.command_dc(400.0, 50.0)
    await until(lambda: module.read().current_a == 50.0)
    simulated.silent = True
    await until(lambda: module.read().fault is not None)
    assert "not answering" in (stage.fault or "")
    await stage.bring_to_rest(limit_s=0.2)
    assert not stage.contactor.closed
    simulated.silent = False
    await until(lambda: module.read().fault is None)  # answering again: the fault clears
    # Output off: the watchdog stopped it, and the stage's last command is 0 A. (A write
    # that hung while the module was silent may be applied late with the old 50 A and
    # a fresh heartbeat; the stage's next write takes it back, behind open contactors.)
    await until(lambda: module.read().current_a == 0.0)
    assert not stage.contactor.closed


def test_register_values_are_refused_when_they_do_not_fit_and_the_command_is_kept():
    module = ModbusPowerModule(ModbusEndpoint("127.0.0.1", 1))
    module.set_dc(400.0, 10.0)
    with pytest.raises(ValueError, match="does not fit"):
        module.set_dc(7000.0, 10.0)
    assert module._voltage_v == 400.0  # the command before stands
    assert to_register(-0.1) == 0xFFFF
    assert reading_of([4000, 0xFFF6, 0, 0, 1000]).current_a == -1.0
