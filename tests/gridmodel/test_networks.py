"""Loading and validating networks: clear errors that name the element."""

import pytest

from gridmodel import NetworkError, load_network
from gridmodel.networks import BUILT_INS, validate


@pytest.mark.parametrize("name", [n for n in BUILT_INS if n != "1-MVLV-urban-all-0-sw"])
def test_every_small_built_in_loads_and_solves(name):
    network = load_network(name)
    assert len(network.net.bus) > 10
    assert network.connection_buses()


def test_buses_resolve_by_name_or_index(cigre_lv):
    assert cigre_lv.resolve_bus("Bus R11") == 12
    assert cigre_lv.resolve_bus("12") == 12 == cigre_lv.resolve_bus(12)
    with pytest.raises(NetworkError, match="no bus named 'Bus X'"):
        cigre_lv.resolve_bus("Bus X")
    with pytest.raises(NetworkError, match="no bus with index 999"):
        cigre_lv.resolve_bus(999)


def test_a_broken_json_file_is_named(tmp_path):
    path = tmp_path / "feeder.json"
    path.write_text('{"_module": "pandapower.auxiliary", "_class": "pandapowerNet"', "utf-8")
    with pytest.raises(NetworkError, match="cannot read pandapower JSON"):
        load_network(path)
    with pytest.raises(NetworkError, match="neither a built-in network"):
        load_network(tmp_path / "missing.json")


def test_a_json_network_round_trips(tmp_path, cigre_lv):
    import pandapower as pp

    path = tmp_path / "cigre.json"
    pp.to_json(cigre_lv.net, str(path))
    assert len(load_network(path).net.bus) == len(cigre_lv.net.bus)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda net: net.ext_grid.__setitem__("in_service", False), "no external grid"),
        (lambda net: net.line.__setitem__("max_i_ka", float("nan")), "line 0 .* no max_i_ka"),
        (lambda net: net.trafo.__setitem__("sn_mva", 0.0), "trafo 0 .* no sn_mva"),
        (lambda net: net.line.__setitem__("in_service", False), "islanded"),
    ],
    ids=["no-slack", "no-line-limit", "no-trafo-rating", "islands"],
)
def test_inconsistent_networks_fail_naming_the_element(cigre_lv, break_it, message):
    net = cigre_lv.copy_net()
    break_it(net)
    with pytest.raises(NetworkError, match=message):
        validate(net, "broken")


def test_a_base_case_that_does_not_converge_is_refused(cigre_lv):
    net = cigre_lv.copy_net()
    net.load["p_mw"] *= 400
    with pytest.raises(NetworkError, match="does not converge"):
        validate(net, "overloaded")


def test_simbench_tap_positions_are_applied_not_silently_ignored(cigre_lv):
    """Trap: pandapower 3.5.6 ignores tap positions of transformers without a
    tap_changer_type (as SimBench ships them): one tap step, 1.6-1.8e-2 pu."""
    import pandapower as pp

    net = cigre_lv.copy_net()
    net.trafo.loc[0, ["tap_pos", "tap_neutral", "tap_step_percent", "tap_side"]] = [
        -1,
        0,
        2.5,
        "hv",
    ]
    net.trafo["tap_changer_type"] = None
    pp.runpp(net, numba=False)
    ignored = net.res_bus.vm_pu.at[12]
    validate(net, "tapped")
    pp.runpp(net, numba=False)
    assert net.trafo.at[0, "tap_changer_type"] == "Ratio"
    assert abs(net.res_bus.vm_pu.at[12] - ignored) > 0.01
    net.trafo.loc[0, "tap_step_percent"] = float("nan")
    net.trafo["tap_changer_type"] = None
    with pytest.raises(NetworkError, match=r"trafo 0 .* has no tap_step_percent"):
        validate(net, "tapped")
