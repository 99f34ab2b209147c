"""The networks the generated scenarios run on, as ``v2g simulate`` names them: a
built-in name, or a pandapower JSON file written here on first use.

Files go to a cache folder (default: ``$TMPDIR/v2g-oracle-networks``); each is
written once and reused, so many scenarios share one file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: SimBench LV grid used as "the SimBench MV/LV case": urban, 59 buses, 111 loads, five
#: PV units, one 0.63 MVA transformer. The full 1-MVLV-urban-all-0-sw (10,458 buses) takes
#: 0.2 s per power flow here, too slow for a 20-scenario benchmark with five replays each.
SIMBENCH_LV = "1-LV-urban6--0-sw"


def _depot() -> Any:
    """A depot behind its own transformer: ext_grid, a 10 kV bus, a 0.4 kV bus, one
    0.25 MVA transformer, one 100 kW building load. No lines."""
    import pandapower as pp

    net = pp.create_empty_network(name="depot")
    mv = pp.create_bus(net, vn_kv=10.0, name="Depot MV")
    lv = pp.create_bus(net, vn_kv=0.4, name="Depot LV")
    pp.create_ext_grid(net, mv, vm_pu=1.0, name="Grid")
    pp.create_transformer(net, mv, lv, std_type="0.25 MVA 10/0.4 kV", name="Depot trafo")
    pp.create_load(net, lv, p_mw=0.1, q_mvar=0.025, name="Depot building")
    return net


def _cigre_mv_meshed() -> Any:
    """CIGRE MV with its three tie switches closed: a meshed MV network."""
    import pandapower.networks as pn

    net = pn.create_cigre_network_mv()
    net.switch.loc[:, "closed"] = True
    return net


def _simbench_lv() -> Any:
    import simbench

    return simbench.get_simbench_net(SIMBENCH_LV)


def _simbench_mv() -> Any:
    """SimBench's urban MV grid alone (1-MV-urban--0-sw): room for a thousand chargers
    on one feeder, without the 10,000 LV buses of 1-MVLV-urban-all-0-sw."""
    import simbench

    return simbench.get_simbench_net("1-MV-urban--0-sw")


BUILDERS: dict[str, Callable[[], Any]] = {
    "depot": _depot,
    "cigre-mv-meshed": _cigre_mv_meshed,
    "simbench-lv-urban6": _simbench_lv,
    "simbench-mv-urban": _simbench_mv,
}


@dataclass(frozen=True)
class NetworkFiles:
    """Where generated network files live."""

    folder: Path

    @classmethod
    def default(cls) -> NetworkFiles:
        folder = os.environ.get("V2G_ORACLE_NETWORKS")
        return cls(Path(folder) if folder else Path(tempfile.gettempdir()) / "v2g-oracle-networks")

    def spec(self, name: str) -> str:
        """What a scenario's ``feeder.network`` says for ``name``: the built-in name, or
        the path of the JSON file (written now if missing)."""
        if name not in BUILDERS:
            return name
        import pandapower as pp

        path = self.folder / f"{name}.json"
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.part")
            pp.to_json(BUILDERS[name](), str(partial))
            partial.replace(path)
        return str(path)
