"""Every energy transfer mode an EVSE offers by default completes a session with the
iso15118 EVCC asking for it (issue 21): a single-phase car at a three-phase AC EVSE,
and DC_core, DC_extended and DC_combo_core cars at a DC EVSE, in DIN SPEC 70121 and
ISO 15118-2 (the EV's RequestedEnergyTransferMode must be one the SECC offered in
ServiceDiscoveryRes; otherwise FAILED_WrongEnergyTransferMode). Before, a three-phase
EVSE offered only AC_three_phase_core and a DC EVSE only DC_extended, and such a car
ended the session at ServiceDiscovery ("Offered EnergyTransferModes not compatible")."""

from __future__ import annotations

import pytest

from tests.integration.test_loopback import SEQUENCES, phases, run

pytestmark = pytest.mark.netns


def test_single_phase_car_charges_at_a_three_phase_ac_evse_on_one_phase(tmp_path):
    """7 kW on one phase of 230 V needs 30 A; the EVSE's 16 A bind: 3680 W."""
    report = run(
        "iso2-ac", tmp_path, setpoint_w=7000.0, energy_transfer_mode="AC_single_phase_core"
    )
    assert phases(report["sequence"]) == SEQUENCES["iso2-ac"]
    assert report["ev_target_power_w"]
    assert all(t == pytest.approx(3680.0) for t in report["ev_target_power_w"])


@pytest.mark.parametrize("mode", ["DC_core", "DC_extended", "DC_combo_core"])
def test_iso2_dc_car_asking_each_dc_mode_completes(mode, tmp_path):
    report = run("iso2-dc", tmp_path, setpoint_w=7000.0, energy_transfer_mode=mode)
    assert phases(report["sequence"]) == SEQUENCES["iso2-dc"]
    assert report["ev_target_power_w"]
    assert all(t == pytest.approx(7000.0) for t in report["ev_target_power_w"])


def test_din_offers_its_one_energy_transfer_type_first_and_accepts_it(tmp_path):
    """DIN SPEC 70121 ServiceDiscoveryRes carries a single EnergyTransferType: the
    EVSE's first mode (DC_extended by default)."""
    report = run("din-dc", tmp_path, setpoint_w=7000.0, energy_transfer_mode="DC_extended")
    assert phases(report["sequence"]) == SEQUENCES["din-dc"]


def test_din_announces_the_evses_first_mode_so_a_dc_core_evse_serves_a_dc_core_car(tmp_path):
    report = run(
        "din-dc",
        tmp_path,
        setpoint_w=7000.0,
        energy_transfer_mode="DC_core",
        evse_energy_transfer_modes=("DC_core", "DC_extended"),
    )
    assert phases(report["sequence"]) == SEQUENCES["din-dc"]
    assert report["ev_target_power_w"]
    assert all(t == pytest.approx(7000.0) for t in report["ev_target_power_w"])
