"""`v2g secc` with ``slac = true``: SLAC with the independent EV side over a bridged
PLC stand-in (tests/slac/plc_medium.py), then a full ISO 15118 session with the
iso15118 EVCC over the same link: SLAC feeds SDP (ISO 15118-3 Annex A.9)."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.processes import drive_ev, v2g_process, wait_for_line
from tests.slac.ev_side import IndependentEv
from tests.slac.modem import SimulatedModem, host_mac_of
from tests.slac.plc_medium import plc_medium, raw_socket
from v2g.secc.loopback.netns import NetnsEnd
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns


def test_secc_with_slac_matches_the_ev_then_serves_its_session(tmp_path):
    spec = LoopbackSpec(protocol="iso20-ac-bpt", ev_timeout_scale=4.0, session_timeout_s=60)
    spec.write(tmp_path / "spec.json")
    with plc_medium(f"s{os.getpid() % 100000}", chargers=1) as medium:
        (charger,) = medium.chargers
        probe = raw_socket(charger.namespace, charger.interface)
        host_mac = host_mac_of(probe)
        probe.close()
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "slac = true\n",
            encoding="utf-8",
        )
        secc_log = tmp_path / "secc.log"
        modem = SimulatedModem(medium.plc_namespace, charger.port, host_mac, 15)
        secc = NetnsEnd(charger.namespace, charger.interface)
        with (
            modem,
            v2g_process(secc, secc_log, "secc", "--config", str(tmp_path / "charger.toml")),
        ):
            wait_for_line(secc_log, "waiting for the EV", 60)
            ev_sock = raw_socket(medium.ev.namespace, medium.ev.interface)
            try:
                outcome = IndependentEv(ev_sock).run()
            finally:
                ev_sock.close()
            assert outcome.failure is None, outcome.failure
            wait_for_line(secc_log, "SLAC DE*V2G*E0042: matched EV", 5)
            assert outcome.nmk == modem.nmk
            vehicle = NetnsEnd(medium.ev.namespace, medium.ev.interface)
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "vehicle.json")
    result = json.loads((tmp_path / "vehicle.json").read_text())
    assert result["completed"]
    assert "EV AC_ChargeLoopReq -> SECC AC_ChargeLoopRes" in secc_log.read_text()
