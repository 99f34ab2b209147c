"""Renegotiation and pause/resume bring the power stage to zero before CableCheck and
PreCharge run again (issue 21), against ``v2g secc`` in network namespaces and a
scripted ISO 15118-2 DC EV that draws 150 A first (``renegotiating_vehicle``).

The trap (iso15118 0.31.2): a PowerDeliveryReq(ChargeProgress=Renegotiate) never
reached the EVSE controller, so the stage kept delivering the charge loop's current;
CableCheck answered Valid while it flowed and the PreCharge that follows failed
("Target current or present current too high in state Precharge": IEC 61851-23 CC.5.2
allows 2 A). An EV asking 2 A slipped through; one asking 150 A failed every time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.processes import v2g_process
from tests.integration.renegotiating_vehicle import PAUSE, RENEGOTIATE, Plan
from tests.integration.wire_secc import run_scripted
from v2g.secc.loopback.netns import NetnsEnd, veth_link

pytestmark = pytest.mark.netns

#: A 150 kW DC EVSE that runs at its fallback (no aggregator): 150 A at 400 V flows.
CHARGER_TOML = (
    '[[evse]]\nevse_id = "DE*V2G*E0150"\ninterface = "{interface}"\ncurrent = "dc"\n'
    "max_charge_power_w = 150000\nmax_current_a = 200\nmax_voltage_v = 500\n"
    "fallback_power_w = 100000\n"
)


@pytest.fixture(scope="module")
def secc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("renegotiation")
    with veth_link(f"rn{os.getpid()}") as (charger, vehicle):
        config = tmp_path / "charger.toml"
        config.write_text(CHARGER_TOML.format(interface=charger.interface), encoding="utf-8")
        log = tmp_path / "secc.log"
        with v2g_process(charger, log, "secc", "--config", str(config)):
            yield vehicle, log, tmp_path


def run_plan(vehicle: NetnsEnd, tmp_path: Path, **plan: object) -> dict[str, object]:
    return run_scripted(
        vehicle,
        tmp_path / "plan.json",
        "tests.integration.renegotiating_vehicle",
        Plan(interface=vehicle.interface, **plan),  # type: ignore[arg-type]
    )


def test_iso2_dc_renegotiate_at_150_a_ramps_to_zero_then_reruns_cablecheck_and_precharge(secc):
    vehicle, log, tmp_path = secc
    outcome = run_plan(vehicle, tmp_path, action=RENEGOTIATE)
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    assert outcome["peak_current_a"] >= 149
    # The isolation test waited for the output to be off: EVSEProcessing Ongoing first.
    assert outcome["cable_check_ongoing"] >= 1, outcome
    after = outcome["responses"][outcome["responses"].index("PowerDeliveryRes OK") + 1 :]
    renegotiated = after[after.index("PowerDeliveryRes OK") + 1 :]
    assert renegotiated[0] == "ChargeParameterDiscoveryRes OK"
    assert "CableCheckRes OK" in renegotiated and "PreChargeRes OK" in renegotiated
    assert outcome["charging_current_a"] >= 149
    assert "energy transfer stopped (PowerDelivery Renegotiate)" in log.read_text()


def test_iso2_dc_pause_at_150_a_then_resume_charges_again(secc):
    vehicle, log, tmp_path = secc
    outcome = run_plan(vehicle, tmp_path, action=PAUSE)
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    assert outcome["peak_current_a"] >= 149
    assert outcome["charging_current_a"] >= 149


def test_iso20_dc_pause_at_150_a_then_resume_reruns_cablecheck_and_precharge(secc):
    """-20: PowerDelivery(Stop) at full current, SessionStop(Pause), resume with the
    paused SessionID on a new connection, DC_CableCheck and DC_PreCharge again."""
    vehicle, log, tmp_path = secc
    outcome = run_plan(vehicle, tmp_path, action=PAUSE, protocol="iso20")
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    assert outcome["peak_current_a"] >= 149
    assert outcome["responses"].count("DC_PreChargeRes OK") >= 4
    assert outcome["charging_current_a"] >= 149
