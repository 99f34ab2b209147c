"""The mailbox's stop path (an OCPP RequestStopTransaction or Reset at the station):
the controller tells the EV to end the session, in every protocol, and only the
session that was asked."""

import pytest
from iso15118.shared.messages.datatypes import EVSENotification as EVSENotificationV2
from iso15118.shared.messages.iso15118_20.common_types import EVSENotification

from tests.unit.secc_helpers import SESSION_ID, Rig, dc_bpt_evse


@pytest.fixture
def rig(clock, monotonic):
    return Rig(dc_bpt_evse(), clock, monotonic)


async def test_a_session_asked_to_stop_is_told_to_terminate_in_every_protocol(rig):
    await rig.start_dc_bpt_session()
    assert await rig.controller.get_evse_status() is None
    rig.mailbox.request_stop("another session")
    assert await rig.controller.get_evse_status() is None
    assert (await rig.controller.get_dc_evse_status()).evse_notification == (
        EVSENotificationV2.NONE
    )
    rig.mailbox.request_stop(SESSION_ID)
    status = await rig.controller.get_evse_status()
    assert status is not None and status.evse_notification == EVSENotification.TERMINATE
    assert (await rig.controller.get_dc_evse_status()).evse_notification == (
        EVSENotificationV2.STOP_CHARGING
    )
    assert (await rig.controller.get_ac_evse_status()).evse_notification == (
        EVSENotificationV2.STOP_CHARGING
    )
    assert rig.mailbox.read() is None  # nothing more is planned for it
