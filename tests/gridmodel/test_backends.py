"""power-grid-model against pandapower, the model of record, on every built-in network."""

import numpy as np
import pytest

from gridmodel import BUILT_INS, AcGridCheck, Injection, load_network
from gridmodel.pgm_flow import PgmFlow, UnsupportedNetwork
from gridmodel.powerflow import PandapowerFlow


@pytest.mark.parametrize("name", list(BUILT_INS))
def test_fast_backend_agrees_with_pandapower_on_every_built_in(name):
    network = load_network(name)
    reference, fast = PandapowerFlow(network), PgmFlow(network)
    buses = network.connection_buses()[:20]
    rng = np.random.default_rng(3)
    for injections in (
        [],
        [
            Injection(b, float(w))
            for b, w in zip(buses, rng.uniform(-20_000, 20_000, len(buses)), strict=True)
        ],
    ):
        a, b = reference.solve(injections), fast.solve(injections)
        assert a.converged and b.converged
        assert np.nanmax(np.abs(a.vm_pu - b.vm_pu)) < 1e-4
        assert np.nanmax(np.abs(a.line_loading_percent - b.line_loading_percent)) < 0.1
        if len(a.trafo_loading_percent):
            assert np.nanmax(np.abs(a.trafo_loading_percent - b.trafo_loading_percent)) < 0.1


def test_a_finite_source_impedance_would_shift_voltages(cigre_lv):
    """Trap: power-grid-model gives the slack an internal impedance unless its
    short-circuit power is made effectively infinite (up to 8e-3 pu otherwise)."""
    reference = PandapowerFlow(cigre_lv).solve([])
    ideal = PgmFlow(cigre_lv).solve([])
    weak = PgmFlow(cigre_lv, source_sk_va=100e6).solve([])
    assert np.nanmax(np.abs(reference.vm_pu - ideal.vm_pu)) < 1e-6
    assert np.nanmax(np.abs(reference.vm_pu - weak.vm_pu)) > 1e-3


def test_networks_the_converter_cannot_take_fall_back_to_pandapower(cigre_lv):
    import pandapower as pp

    net = cigre_lv.copy_net()
    pp.create_gen(net, bus=12, p_mw=0.01, vm_pu=1.0)
    network = type(cigre_lv)("with-gen", net, cigre_lv.limits)
    with pytest.raises(UnsupportedNetwork, match="gen elements"):
        PgmFlow(network)
    assert AcGridCheck(network).backend == "pandapower"
    assert AcGridCheck(cigre_lv).backend == "power-grid-model"
    with pytest.raises(UnsupportedNetwork):
        AcGridCheck(network, backend="power-grid-model")
