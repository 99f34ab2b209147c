"""`v2g secc --config` serves a real EV on a given interface."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.processes import drive_ev, v2g_process
from v2g.secc.loopback.netns import veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns


def test_secc_command_serves_a_bpt_session_on_the_configured_interface(tmp_path):
    """The EVCC timeouts are raised fourfold for the Java codec, as in test_loopback."""
    spec = LoopbackSpec(protocol="iso20-ac-bpt", ev_timeout_scale=4.0, session_timeout_s=60)
    spec.write(tmp_path / "spec.json")
    with veth_link(f"c{os.getpid()}") as (charger, vehicle):
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "fallback_power_w = 4600\n",
            encoding="utf-8",
        )
        secc_log = tmp_path / "secc.log"
        with v2g_process(charger, secc_log, "secc", "--config", str(tmp_path / "charger.toml")):
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "vehicle.json")
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"]
    log_text = secc_log.read_text()
    assert "EV AC_ChargeLoopReq -> SECC AC_ChargeLoopRes" in log_text
    loop = [m["body"] for m in result["received"] if m["name"] == "AC_ChargeLoopRes"]
    # No aggregator writes the mailbox here, so the EVSE runs at its fallback power.
    assert all(json.dumps(b).count('"Value": 4600') for b in loop)
