"""The session's life from the control pilot (IEC 61851-1 Annex A) and the power
stage's faults (IEC 61851-23), through ``Supervisor.check`` on a controller whose
pilot and module are fakes."""

from __future__ import annotations

import pytest

from tests.unit.secc_helpers import Rig, dc_bpt_evse
from v2g.hardware.seams import HLC_DUTY_CYCLE_PCT, PilotState
from v2g.hardware.simulated import SimulatedContactor, SimulatedMeter
from v2g.secc.power_stage import PowerStage
from v2g.secc.supervisor import Supervisor
from v2g.session import SessionEnded
from v2g.testing.hardware import FakeControlPilot, FakePowerModule


@pytest.fixture
def rig(clock, monotonic):
    rig = Rig(dc_bpt_evse(), clock, monotonic)
    module = FakePowerModule()
    contactor = SimulatedContactor()
    rig.controller.stage = PowerStage(module, contactor, SimulatedMeter())
    rig.controller.pilot = pilot = FakeControlPilot(PilotState.C)
    order: list[str] = []
    rig.controller.close_session = lambda: order.append(
        f"close_session (contactors {'closed' if contactor.closed else 'open'}, "
        f"{module.current_a:g} A)"
    )
    rig.order, rig.module, rig.pilot = order, module, pilot
    return rig


async def charging(rig) -> None:
    await rig.start_dc_bpt_session()
    await rig.enter("PowerDelivery")
    await rig.controller.send_charging_command(400.0, 7.5)
    assert rig.module.current_a == 7.5 and rig.controller.stage.contactor.closed


def test_plug_in_raises_the_hlc_pwm_and_starts_the_plug_in_hook(rig):
    """IEC 61851-1: A to B; 5 % duty cycle asks for high-level communication
    (ISO 15118-3: SLAC starts here)."""
    plugged: list[str] = []
    supervisor = Supervisor(rig.controller, on_plug_in=lambda: plugged.append("slac"))
    rig.pilot.set_state(PilotState.A)
    supervisor.check()
    rig.pilot.set_state(PilotState.B)
    supervisor.check()
    assert rig.pilot.duty_cycles == [HLC_DUTY_CYCLE_PCT]
    assert plugged == ["slac"]


@pytest.mark.parametrize(
    ("state", "ended_by"),
    [(PilotState.A, "unplug"), (PilotState.E, "pilot"), (PilotState.F, "pilot")],
)
async def test_unplug_or_a_pilot_error_opens_the_contactors_before_the_session_closes(
    rig, state, ended_by
):
    """IEC 61851-1: A (unplugged), E or F during charging: the output is off and the
    contactors are open before the package is told (close_session), and the
    session's end names the cause."""
    await charging(rig)
    supervisor = Supervisor(rig.controller)
    supervisor.check()
    rig.pilot.set_state(state)
    supervisor.check()
    supervisor.check()  # once per session
    assert rig.order == ["close_session (contactors open, 0 A)"]
    await rig.controller.session_ended("DCChargeLoop", "TCP peer closed connection")
    ended = rig.events[-1]
    assert isinstance(ended, SessionEnded) and ended.reason.startswith(f"{ended_by}: ")


@pytest.mark.parametrize(
    ("fault", "ended_by"),
    [("module", "module-fault"), ("isolation", "isolation-fault")],
)
@pytest.mark.parametrize("phase", ["precharge", "charge loop"])
async def test_a_module_or_isolation_fault_stops_safely_and_is_reported(
    rig, fault, ended_by, phase
):
    """IEC 61851-23: a module fault or an insulation fault (its isolation monitor)
    during PreCharge or the charge loop: output off, contactors open, session ended
    with the reason."""
    await rig.start_dc_bpt_session()
    if phase == "charge loop":
        await rig.enter("PowerDelivery")
    await rig.controller.send_charging_command(400.0, 7.5)
    if fault == "module":
        rig.module.fault = "power module fault: over-temperature"
    else:
        rig.module.isolation_ok = False
    Supervisor(rig.controller).check()
    assert rig.order == ["close_session (contactors open, 0 A)"]
    await rig.controller.send_charging_command(400.0, 7.5)  # a request in flight
    assert rig.module.current_a == 0.0 and not rig.controller.stage.contactor.closed
    await rig.controller.session_ended("DCChargeLoop", "TCP peer closed connection")
    assert rig.events[-1].reason.startswith(f"{ended_by}: ")
    assert rig.controller.last_ending.ended_by == ended_by


async def test_pilot_b_during_charging_pauses_the_output_and_c_resumes_it(rig):
    """IEC 61851-1: C to B while charging: the EV suspends; no current until C."""
    await charging(rig)
    supervisor = Supervisor(rig.controller)
    supervisor.check()
    rig.pilot.set_state(PilotState.B)
    supervisor.check()
    assert rig.module.current_a == 0.0
    await rig.controller.send_charging_command(400.0, 7.5)
    assert rig.module.current_a == 0.0
    assert rig.order == []  # the session goes on
    rig.pilot.set_state(PilotState.C)
    supervisor.check()
    await rig.controller.send_charging_command(400.0, 7.5)
    assert rig.module.current_a == 7.5


async def test_get_cp_state_reports_the_pilot_with_its_pwm(rig):
    from iso15118.shared.messages.enums import CpState

    rig.pilot.set_pwm(HLC_DUTY_CYCLE_PCT)
    assert await rig.controller.get_cp_state() == CpState.C2
    rig.pilot.set_pwm(100.0)
    rig.pilot.set_state(PilotState.B)
    assert await rig.controller.get_cp_state() == CpState.B1
    rig.pilot.set_state(PilotState.E)
    assert await rig.controller.get_cp_state() == CpState.E
