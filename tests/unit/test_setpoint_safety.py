"""A setpoint acts only on the session it was planned for, for as long as it is valid
on the monotonic clock; the commanded DC voltage never exceeds the EVSE's rating."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iso15118.shared.messages.enums import ControlMode, ServiceV20

from tests.conftest import T0
from tests.unit.secc_helpers import SESSION_ID, Rig, dc_bpt_evse, decimal
from v2g.secc.mailbox import SetpointMailbox
from v2g.session import Setpoint
from v2g.testing import FakeClock, FakeMonotonic

VEHICLE_B = "B0B0B0B0B0B0B0B0"


@pytest.fixture
def rig(clock: FakeClock, monotonic: FakeMonotonic) -> Rig:
    return Rig(dc_bpt_evse(), clock, monotonic)


def post(rig: Rig, power_w: float, valid_s: float = 1800.0, session_id: str | None = SESSION_ID):
    rig.mailbox.post(
        Setpoint.from_source(
            power_w, rig.clock.now() + timedelta(seconds=valid_s), "aggregator", session_id
        )
    )


async def dc_loop(rig: Rig) -> tuple[float, float]:
    """(max charge W, max discharge W) of a -20 DC BPT dynamic charge-loop answer."""
    params = await rig.controller.get_dc_charge_loop_params_v20(
        ControlMode.DYNAMIC, ServiceV20.DC_BPT
    )
    return decimal(params.evse_maximum_charge_power), decimal(params.evse_max_discharge_power)


async def start_vehicle_b(rig: Rig) -> None:
    await rig.enter("SupportedAppProtocol", session_id=VEHICLE_B, evcc_id="OTHERVEHICLE")
    await rig.enter("SessionSetup", session_id=VEHICLE_B, evcc_id="OTHERVEHICLE")
    rig.report_dc_bpt_ev()
    await rig.controller.send_rated_limits()


async def test_a_discharge_for_vehicle_a_never_reaches_vehicle_b_after_a_ends(rig: Rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    assert await dc_loop(rig) == (0, 5000)
    await rig.controller.session_ended("CurrentDemand", "EV unplugged")
    await start_vehicle_b(rig)
    assert await dc_loop(rig) == (3000, 0)  # the fallback, which never discharges
    assert rig.controller.applied_power().source.startswith("no setpoint")


async def test_a_new_supported_app_protocol_starts_on_the_fallback(rig: Rig):
    """No SessionEnded in between (the EV vanished without a SessionStop)."""
    await rig.start_dc_bpt_session()
    post(rig, -5000)
    await start_vehicle_b(rig)
    assert await dc_loop(rig) == (3000, 0)
    assert rig.mailbox.read() is None


async def test_a_late_setpoint_for_vehicle_a_is_ignored_by_vehicle_b(rig: Rig):
    await rig.start_dc_bpt_session()
    await start_vehicle_b(rig)
    post(rig, -5000, session_id=SESSION_ID)  # the aggregator's plan for A arrives late
    assert await dc_loop(rig) == (3000, 0)
    post(rig, -4000, session_id=VEHICLE_B)
    assert await dc_loop(rig) == (0, 4000)


async def test_a_setpoint_bound_to_no_session_is_never_applied(rig: Rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, session_id=None)
    assert await dc_loop(rig) == (3000, 0)


async def test_a_clock_stepping_back_does_not_revive_an_expired_discharge(rig: Rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, valid_s=60)
    rig.clock.advance(61)
    rig.monotonic.advance(61)
    assert await dc_loop(rig) == (3000, 0)
    rig.clock.advance(-3600)  # NTP or an operator sets the wall clock an hour back
    rig.monotonic.advance(1)
    assert await dc_loop(rig) == (3000, 0)
    assert rig.controller.applied_power().source.startswith("stale setpoint")


async def test_a_clock_stepping_back_shortens_nothing_but_cannot_extend_a_setpoint(rig: Rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, valid_s=60)
    rig.clock.advance(-600)
    rig.monotonic.advance(30)
    assert await dc_loop(rig) == (0, 5000)  # still within its 60 s
    rig.monotonic.advance(30)
    assert await dc_loop(rig) == (3000, 0)


async def test_the_schedule_ends_the_setpoint_when_its_monotonic_lifetime_does(rig: Rig):
    await rig.start_dc_bpt_session()
    post(rig, -5000, valid_s=600)
    rig.clock.advance(-3600)
    rig.monotonic.advance(500)
    schedule = rig.controller._schedule(horizon_s=3600)
    assert schedule.slots[0].power_w == -5000
    assert schedule.slots[0].duration_s == 100


async def test_the_dc_voltage_is_clamped_to_the_evses_rating(clock, monotonic):
    rig = Rig(dc_bpt_evse(max_voltage_v=500.0, voltage_ramp_v_per_s=10_000), clock, monotonic)
    await rig.start_dc_bpt_session()
    await rig.controller.send_charging_command(1182.0, 0.0, is_precharge=True)
    monotonic.advance(5)
    assert rig.controller.stage.read().voltage_v == 500.0
    await rig.enter("PowerDelivery")
    post(rig, 5000)
    await rig.controller.send_charging_command(1182.0, 10.0)
    monotonic.advance(5)
    assert rig.controller.stage.read().voltage_v == 500.0
    for wrong in (float("nan"), float("inf"), -400.0):
        await rig.controller.send_charging_command(wrong, 10.0)
        monotonic.advance(5)
        assert 0.0 <= rig.controller.stage.read().voltage_v <= 500.0


def test_the_mailbox_ages_a_setpoint_on_the_monotonic_clock():
    clock, monotonic = FakeClock(T0), FakeMonotonic()
    mailbox = SetpointMailbox(clock, monotonic)
    mailbox.post(Setpoint.from_source(-5000, T0 + timedelta(seconds=10), "x", "S"))
    assert mailbox.read_for("S", T0) is not None
    assert mailbox.read_for("other", T0) is None
    assert mailbox.read_for(None, T0) is None
    monotonic.advance(10)
    fresh = mailbox.read_for("S", T0 - timedelta(hours=1))
    assert fresh is not None and fresh.is_stale(T0 - timedelta(hours=1))


@settings(max_examples=60, deadline=None)
@given(
    bound_to=st.sampled_from([SESSION_ID, VEHICLE_B, None]),
    power_w=st.floats(min_value=-20_000, max_value=20_000, allow_nan=False),
    valid_s=st.floats(min_value=1, max_value=3600),
    steps=st.lists(st.tuples(st.floats(-7200, 7200), st.floats(0, 600)), min_size=1, max_size=5),
)
def test_only_a_fresh_setpoint_for_the_live_session_ever_discharges(
    bound_to, power_w, valid_s, steps
):
    """Wall-clock jumps either way, monotonic time forward: discharge happens only
    while the setpoint is bound to the live session and its lifetime has not run out."""

    async def run() -> None:
        rig = Rig(dc_bpt_evse(), FakeClock(T0), FakeMonotonic())
        await rig.start_dc_bpt_session()
        post(rig, power_w, valid_s, bound_to)
        elapsed_s = 0.0
        for wall_jump_s, mono_s in steps:
            rig.clock.advance(wall_jump_s + mono_s)
            rig.monotonic.advance(mono_s)
            elapsed_s += mono_s
            applied = rig.controller.applied_power().power_w
            if applied < 0:
                assert bound_to == SESSION_ID and elapsed_s < valid_s

    asyncio.run(run())
