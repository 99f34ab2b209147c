"""A session ends with the output at rest: current to 0, then contactors open, then
the session record closes (SessionEnded to the aggregator, with what ended it)."""

from __future__ import annotations

import itertools

import pytest

from tests.unit.secc_helpers import dc_bpt_evse
from v2g.hardware.simulated import SimulatedContactor, SimulatedMeter
from v2g.secc.controller import EvseController, ended_by_of
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.mailbox import SetpointMailbox
from v2g.secc.power_stage import OPEN_AT_CURRENT_A, PowerStage
from v2g.session import SessionEnded
from v2g.testing.hardware import FakePowerModule


def stepping_monotonic(step_s: float = 0.01):
    """A monotonic clock that moves ``step_s`` on every reading: the simulated module
    ramps as it is polled, without waiting for the wall clock."""
    ticks = itertools.count()
    return lambda: next(ticks) * step_s


@pytest.fixture
def rig(clock):
    evse = dc_bpt_evse()
    stage = PowerStage.simulated(2000.0, 500.0, stepping_monotonic())
    seen: list[tuple[object, float, bool]] = []
    bus = SessionEventBus()
    controller = EvseController(evse, SetpointMailbox(clock), bus, clock, stage=stage)
    bus.subscribe(lambda e: seen.append((e, stage.read().current_a, stage.contactor.closed)))
    return controller, stage, seen


async def test_contactors_open_at_rest_before_the_session_record_closes(rig):
    controller, stage, seen = rig
    stage.command_dc(400.0, 100.0)
    while stage.read().current_a < 100.0:
        pass
    assert stage.contactor.closed
    await controller.session_ended("DCChargeLoop", "TimeoutError occurred. Waited for 0.5 s")
    event, current_a, closed = seen[-1]
    assert isinstance(event, SessionEnded)
    assert abs(current_a) <= OPEN_AT_CURRENT_A and not closed
    assert event.reason.startswith("ev-silent: ")
    assert controller.last_ending is not None
    assert controller.last_ending.ended_by == "ev-silent"


async def test_a_module_that_does_not_ramp_down_is_cut_at_the_limit():
    module = FakePowerModule(follows_stop=False)
    stage = PowerStage(module, SimulatedContactor(), SimulatedMeter())
    stage.command_dc(400.0, 50.0)
    took_s = await stage.bring_to_rest(limit_s=0.05)
    assert 0.05 <= took_s < 0.5
    assert not stage.contactor.closed


@pytest.mark.parametrize(
    ("reason", "ended_by"),
    [
        ("TimeoutError occurred. Waited for 0.5 s after sending last message", "ev-silent"),
        ("no whole V2GTP message within 3 s (V2G_SECC_Sequence_Timeout)", "ev-silent"),
        ("control pilot A: EV unplugged", "unplug"),
        ("power module fault: over-temperature", "module-fault"),
        ("isolation fault: monitor reports a fault", "isolation-fault"),
        ("EV requested to Terminate the communication session", "ev"),
        ("V2GTP frame refused: bad version", "error"),
    ],
)
def test_what_ended_a_session_is_named_from_its_reason(reason, ended_by):
    assert ended_by_of(reason) == ended_by
