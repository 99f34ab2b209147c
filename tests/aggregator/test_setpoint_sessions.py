"""Setpoints travel bound to the session they were planned for: a scripted second
vehicle at the same EVSE, through the aggregator, the in-process link and the SECC's
controller, never gets the first vehicle's discharge."""

from __future__ import annotations

from datetime import timedelta

from iso15118.shared.messages.enums import ControlMode, ServiceV20

from tests.conftest import T0
from tests.unit.secc_helpers import SESSION_ID, Rig, dc_bpt_evse, decimal
from v2g.aggregator import Aggregator, MailboxLink, RecordingLink
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.fleet import Charger, OwnerPolicy, Site
from v2g.testing import FakeClock, FakeMonotonic
from v2g.testing.grid import CapacityGrid

EVSE = "DE*V2G*E0001"
SETTINGS = PlannerSettings(slot_s=3600, slots=4, setpoint_valid_s=1800)


def site(v2g_for: str) -> Site:
    """One bidirectional charger; only the vehicle ``v2g_for`` (EVCC id) allows V2G."""
    return Site.of(
        [Charger(EVSE, 1, 11_000, 11_000)],  # bus 1, charge and discharge W
        policies={v2g_for: OwnerPolicy(v2g_allowed=True, reserve_soc_percent=20)},
    )


async def discharge_w(rig: Rig) -> float:
    params = await rig.controller.get_dc_charge_loop_params_v20(
        ControlMode.DYNAMIC, ServiceV20.DC_BPT
    )
    return decimal(params.evse_max_discharge_power)


async def test_vehicle_b_at_the_same_evse_never_gets_vehicle_as_discharge():
    clock, monotonic = FakeClock(T0), FakeMonotonic()
    rig = Rig(dc_bpt_evse(evse_id=EVSE), clock, monotonic)
    agg = Aggregator(
        site(v2g_for="WMIV1234567890ABCDEX"),
        CapacityGrid(1e6),
        MailboxLink({EVSE: rig.mailbox}),
        clock,
        SETTINGS,
    )
    agg.submit(DemandResponseEvent("evt-1", T0, T0 + timedelta(hours=2), "export_w", 5_000))

    # Vehicle A, V2G allowed, nearly full and staying the night.
    await rig.enter("SupportedAppProtocol")
    await rig.enter("SessionSetup")
    rig.report_dc_bpt_ev()
    rig.controller.ev_data_context.present_soc = 90
    rig.controller.ev_data_context.departure_time = 12 * 3600
    await rig.controller.send_rated_limits()
    for event in rig.events:
        assert agg.submit(event).accepted
    await agg.cycle()
    posted = rig.mailbox.read()
    assert posted is not None and posted.session_id == SESSION_ID and posted.power_w < 0
    assert await discharge_w(rig) > 0

    # A leaves without a cycle in between; B (no V2G) plugs in at the same EVSE.
    await rig.controller.session_ended("CurrentDemand", "unplugged")
    await rig.enter("SupportedAppProtocol", session_id="B" * 16, evcc_id="VEHICLEB")
    await rig.enter("SessionSetup", session_id="B" * 16, evcc_id="VEHICLEB")
    rig.report_dc_bpt_ev()
    await rig.controller.send_rated_limits()
    assert await discharge_w(rig) == 0
    # The aggregator learns of it: B's plan never discharges either.
    for event in rig.events:
        agg.submit(event)
    clock.advance(60)
    await agg.cycle()
    assert rig.mailbox.read_for("B" * 16, clock.now()) is not None
    assert await discharge_w(rig) == 0


async def test_every_posted_setpoint_names_the_session_it_was_planned_for():
    clock = FakeClock(T0)
    rig = Rig(dc_bpt_evse(evse_id=EVSE), clock, FakeMonotonic())
    link = RecordingLink()
    agg = Aggregator(site(v2g_for="nobody"), CapacityGrid(1e6), link, clock, SETTINGS)
    await rig.start_dc_bpt_session()
    for event in rig.events:
        agg.submit(event)
    await agg.cycle()
    assert [s.session_id for s in link.posted[EVSE]] == [SESSION_ID]
