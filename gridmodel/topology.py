"""How a network's buses hang together: which low-voltage grid each bus belongs to."""

from __future__ import annotations

from collections.abc import Sequence

from gridmodel.networks import Network


def substation_groups(network: Network, buses: Sequence[int]) -> list[int]:
    """A group id per bus: buses of one low-voltage grid (connected below 1 kV without
    crossing a transformer) share a group; any other bus is its own.

    Measured on SimBench MV/LV at 10,000 EVs: splitting further, per LV feeder (695
    groups instead of 136), delivered no more (25.4 against 25.5 MW) in 4x the time."""
    import networkx as nx
    import pandapower.topology as top

    net = network.net
    graph = top.create_nxgraph(net, include_trafos=False, include_trafo3ws=False)
    component = {}
    for index, buses_of in enumerate(nx.connected_components(graph)):
        for bus in buses_of:
            component[int(bus)] = index
    vn_kv = net.bus.vn_kv
    keys: dict[tuple[str, int], int] = {}
    groups: list[int] = []
    for bus in buses:
        on_lv_grid = bus in component and vn_kv.at[bus] < 1.0
        key = ("lv", component[bus]) if on_lv_grid else ("bus", int(bus))
        groups.append(keys.setdefault(key, len(keys)))
    return groups
