"""Small hand-built pandapower networks, one per kind of element a user's file may hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandapower as pp
import pandapower.networks as pn

LV_CABLE = "NAYY 4x150 SE"
MV_CABLE = "NA2XS2Y 1x185 RM/25 12/20 kV"


def depot() -> Any:
    """A depot behind its own transformer: ext_grid, two buses, one trafo, a load."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 20.0, name="MV")
    lv = pp.create_bus(net, 0.4, name="depot LV")
    pp.create_ext_grid(net, mv)
    pp.create_transformer(net, mv, lv, "0.63 MVA 20/0.4 kV", name="depot trafo")
    pp.create_load(net, lv, p_mw=0.2, q_mvar=0.05, name="depot load")
    return net


def three_winding() -> Any:
    """A 110/20/10 kV three-winding transformer feeding an MV cable and a 10 kV load."""
    net = pp.create_empty_network()
    hv, mv, lv = (pp.create_bus(net, kv) for kv in (110.0, 20.0, 10.0))
    pp.create_ext_grid(net, hv)
    pp.create_transformer3w(net, hv, mv, lv, "63/25/38 MVA 110/20/10 kV", name="T3")
    end = pp.create_bus(net, 20.0, name="MV end")
    pp.create_line(net, mv, end, 2.0, MV_CABLE)
    pp.create_load(net, end, p_mw=3.0, q_mvar=0.5)
    pp.create_load(net, lv, p_mw=2.0, q_mvar=0.3)
    return net


def _lv_ring(ring_closed: bool) -> Any:
    """An LV ring behind a transformer, with a trafo switch, a bus-bus switch and line
    switches; the ring's last line has an open (or closed) switch at one end."""
    net = pp.create_empty_network()
    mv = pp.create_bus(net, 20.0, name="MV")
    lv, bar = pp.create_bus(net, 0.4, name="LV"), pp.create_bus(net, 0.4, name="bar")
    b2, b3, b4 = (pp.create_bus(net, 0.4, name=f"house {k}") for k in (2, 3, 4))
    pp.create_ext_grid(net, mv)
    trafo = pp.create_transformer(net, mv, lv, "0.4 MVA 20/0.4 kV")
    pp.create_switch(net, lv, trafo, "t", closed=True)
    pp.create_switch(net, lv, bar, "b", closed=True)
    first = pp.create_line(net, bar, b2, 0.2, LV_CABLE)
    pp.create_line(net, b2, b3, 0.2, LV_CABLE)
    pp.create_line(net, bar, b4, 0.2, LV_CABLE)
    last = pp.create_line(net, b4, b3, 0.2, LV_CABLE)
    pp.create_switch(net, b3, last, "l", closed=ring_closed)
    pp.create_switch(net, b2, first, "l", closed=True)
    for bus in (b2, b3, b4):
        pp.create_load(net, bus, p_mw=0.03, q_mvar=0.01)
    return net


def lv_ring_open() -> Any:
    return _lv_ring(False)


def lv_ring_closed() -> Any:
    return _lv_ring(True)


def out_of_service() -> Any:
    """CIGRE LV with a line, the bus it fed and that bus's loads out of service, an
    out-of-service transformer in parallel to a live one, and one more load out."""
    net = pn.create_cigre_network_lv()
    last = net.line.index[-1]
    end = int(net.line.at[last, "to_bus"])
    net.line.at[last, "in_service"] = False
    net.bus.at[end, "in_service"] = False
    net.load.loc[net.load.bus == end, "in_service"] = False
    net.load.at[net.load.index[0], "in_service"] = False
    spare = net.trafo.iloc[0]
    pp.create_transformer_from_parameters(
        net,
        int(spare.hv_bus),
        int(spare.lv_bus),
        sn_mva=float(spare.sn_mva),
        vn_hv_kv=float(spare.vn_hv_kv),
        vn_lv_kv=float(spare.vn_lv_kv),
        vkr_percent=float(spare.vkr_percent),
        vk_percent=float(spare.vk_percent),
        pfe_kw=0.0,
        i0_percent=0.0,
        in_service=False,
        name="spare trafo",
    )
    return net


def pv_and_storage() -> Any:
    """CIGRE LV with rooftop PV (static generators) and a home battery (storage)."""
    net = pn.create_cigre_network_lv()
    for bus in net.load.bus.unique()[:6]:
        pp.create_sgen(net, int(bus), p_mw=0.02, q_mvar=0.0, name="PV", type="PV")
    pp.create_storage(net, int(net.load.bus.iloc[1]), p_mw=0.01, max_e_mwh=0.05, name="battery")
    return net


def two_external_grids() -> Any:
    """An MV cable fed from both ends (two external grids)."""
    net = pp.create_empty_network()
    a, b, c = (pp.create_bus(net, 20.0, name=n) for n in ("A", "B", "C"))
    pp.create_ext_grid(net, a)
    pp.create_ext_grid(net, c, vm_pu=1.01)
    pp.create_line(net, a, b, 3.0, MV_CABLE)
    pp.create_line(net, b, c, 3.0, MV_CABLE)
    pp.create_load(net, b, p_mw=2.0, q_mvar=0.5)
    return net


def voltage_controlled_generator() -> Any:
    """An MV feeder with a voltage-controlled generator (a PV bus, pandapower ``gen``)."""
    net = two_external_grids()
    net.ext_grid.at[net.ext_grid.index[1], "in_service"] = False
    gen_bus = pp.create_bus(net, 20.0, name="gen")
    pp.create_line(net, int(net.bus.index[2]), gen_bus, 1.0, MV_CABLE)
    pp.create_gen(net, gen_bus, p_mw=1.0, vm_pu=1.0, name="CHP")
    return net


def slack_generator() -> Any:
    """An MV feeder whose voltage reference is a generator marked slack (no ext_grid)."""
    net = pp.create_empty_network()
    a, b = pp.create_bus(net, 20.0, name="plant"), pp.create_bus(net, 20.0, name="town")
    pp.create_gen(net, a, p_mw=0.0, vm_pu=1.02, slack=True, name="island plant")
    pp.create_line(net, a, b, 4.0, MV_CABLE)
    pp.create_load(net, b, p_mw=1.5, q_mvar=0.3)
    return net


def cigre_mv_meshed() -> Any:
    """CIGRE MV with its PV and wind and every switch closed: both rings meshed."""
    net = pn.create_cigre_network_mv(with_der="pv_wind")
    net.switch["closed"] = True
    return net


def voltage_dependent_loads() -> Any:
    """Kerber Dorf with half of every load's power constant-impedance (ZIP loads)."""
    net = pn.create_kerber_dorfnetz()
    net.load["const_z_p_percent"] = 50.0
    net.load["const_z_q_percent"] = 50.0
    return net


def ward_and_impedance() -> Any:
    """A depot fed through a series impedance, with a ward and an extended ward (an
    equivalent of the grid beyond) at the MV bus and an asymmetric single-phase load."""
    net = depot()
    mv = int(net.bus.index[0])
    far = pp.create_bus(net, 20.0, name="far MV")
    net.ext_grid.at[net.ext_grid.index[0], "bus"] = far
    pp.create_impedance(net, far, mv, rft_pu=0.01, xft_pu=0.02, sn_mva=10.0)
    pp.create_ward(net, mv, ps_mw=0.1, qs_mvar=0.02, pz_mw=0.01, qz_mvar=0.0)
    pp.create_xward(
        net, mv, ps_mw=0.05, qs_mvar=0.0, pz_mw=0.0, qz_mvar=0.0, r_ohm=0.1, x_ohm=0.5, vm_pu=1.0
    )
    lv = int(net.bus.index[1])
    pp.create_asymmetric_load(net, lv, p_a_mw=0.02, p_b_mw=0.0, p_c_mw=0.0, name="one phase")
    return net


def simbench(code: str) -> Callable[[], Any]:
    """A SimBench grid as shipped (its loads and generation at their nominal values)."""

    def load() -> Any:
        import simbench as sb

        return sb.get_simbench_net(code)

    return load


HAND_BUILT = {
    "depot": depot,
    "three-winding": three_winding,
    "lv-ring-open": lv_ring_open,
    "lv-ring-closed": lv_ring_closed,
    "out-of-service": out_of_service,
    "pv-and-storage": pv_and_storage,
    "two-external-grids": two_external_grids,
    "generator": voltage_controlled_generator,
    "slack-generator": slack_generator,
    "cigre-mv-meshed": cigre_mv_meshed,
    "voltage-dependent-loads": voltage_dependent_loads,
    "ward-and-impedance": ward_and_impedance,
    # SimBench beyond the built-in MV/LV grid: a rural LV grid and an MV grid with its
    # open ring switches.
    "simbench-lv-rural1": simbench("1-LV-rural1--0-sw"),
    "simbench-mv-rural": simbench("1-MV-rural--0-sw"),
}
