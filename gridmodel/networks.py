"""Networks: built-in reference grids by name or pandapower JSON files, validated.

A loaded ``Network`` is never mutated: checks work on private copies. Validation
fails with a message that names the offending element.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridmodel.limits import GridLimits

logger = logging.getLogger(__name__)


class NetworkError(ValueError):
    """A network that cannot be used: unreadable, inconsistent or not solvable."""


def _cigre_lv() -> Any:
    import pandapower.networks as pn

    return pn.create_cigre_network_lv()


def _cigre_mv() -> Any:
    import pandapower.networks as pn

    return pn.create_cigre_network_mv()


def _kerber_dorf() -> Any:
    import pandapower.networks as pn

    return pn.create_kerber_dorfnetz()


def _ieee_eu_lv() -> Any:
    import pandapower.networks as pn

    return _symmetric_loads(pn.ieee_european_lv_asymmetric())


def _mv_oberrhein() -> Any:
    import pandapower.networks as pn

    return pn.mv_oberrhein()


def _simbench(code: str) -> Callable[[], Any]:
    def load() -> Any:
        import simbench

        return simbench.get_simbench_net(code)

    return load


#: Voltage band per built-in network: EN 50160 allows +-10 % at low-voltage customers;
#: the MV reference grids are run in the tighter +-5 % band their authors used.
LV_BAND = GridLimits(vm_pu_min=0.90, vm_pu_max=1.10)
MV_BAND = GridLimits(vm_pu_min=0.95, vm_pu_max=1.05)
DEFAULT_LIMITS: dict[str, GridLimits] = {
    "cigre-lv": LV_BAND,
    "cigre-mv": MV_BAND,
    "kerber-dorf": LV_BAND,
    "ieee-eu-lv": LV_BAND,
    "mv-oberrhein": MV_BAND,
    "1-MVLV-urban-all-0-sw": LV_BAND,
}

BUILT_INS: dict[str, Callable[[], Any]] = {
    "cigre-lv": _cigre_lv,
    "cigre-mv": _cigre_mv,
    "kerber-dorf": _kerber_dorf,
    "ieee-eu-lv": _ieee_eu_lv,
    "mv-oberrhein": _mv_oberrhein,
    "1-MVLV-urban-all-0-sw": _simbench("1-MVLV-urban-all-0-sw"),
}


def _symmetric_loads(net: Any) -> Any:
    """Asymmetric loads and generators (the IEEE European LV feeder models its houses
    as single-phase loads) are ignored by a balanced power flow; fold each into a
    balanced load or static generator of the same total power so the base case
    carries them."""
    import pandapower as pp

    for table, create in (
        ("asymmetric_load", pp.create_load),
        ("asymmetric_sgen", pp.create_sgen),
    ):
        if table not in net:
            continue
        for _, row in net[table].iterrows():
            create(
                net,
                bus=row.bus,
                name=row["name"],
                p_mw=row.p_a_mw + row.p_b_mw + row.p_c_mw,
                q_mvar=row.q_a_mvar + row.q_b_mvar + row.q_c_mvar,
                in_service=row.in_service,
            )
        net[table] = net[table].iloc[0:0]
    return net


@dataclass(frozen=True)
class Network:
    """A validated pandapower network (read-only: work on ``copy_net()``), its name and
    the limits it is checked against."""

    name: str
    net: Any
    limits: GridLimits

    def copy_net(self) -> Any:
        import copy

        return copy.deepcopy(self.net)

    def bus_name(self, bus: int) -> str:
        name = self.net.bus.at[bus, "name"]
        return str(name) if isinstance(name, str) and name else f"bus {bus}"

    def connection_buses(self) -> list[int]:
        """Where chargers connect by default: every bus with an in-service load."""
        loads = self.net.load
        return sorted(int(b) for b in loads.bus[loads.in_service].unique())

    def resolve_bus(self, ref: str | int) -> int:
        """A bus index from a pandapower ``bus.name`` or an index (int or digits)."""
        buses = self.net.bus
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            index = int(ref)
            if index in buses.index:
                return index
            raise NetworkError(f"{self.name} has no bus with index {index}")
        matches = buses.index[buses["name"] == ref]
        if len(matches) == 0:
            raise NetworkError(f"{self.name} has no bus named {ref!r}")
        if len(matches) > 1:
            raise NetworkError(f"{self.name} has {len(matches)} buses named {ref!r}; use an index")
        return int(matches[0])


def load_network(spec: str | Path, limits: GridLimits | None = None) -> Network:
    """A built-in network by name, or a pandapower JSON file, validated."""
    spec_text = str(spec)
    if spec_text in BUILT_INS:
        net = BUILT_INS[spec_text]()
        name = spec_text
    else:
        path = Path(spec_text)
        if not path.is_file():
            raise NetworkError(
                f"{spec_text!r} is neither a built-in network ({', '.join(BUILT_INS)}) "
                "nor a pandapower JSON file"
            )
        import pandapower as pp

        try:
            net = pp.from_json(str(path))
        except Exception as error:  # pandapower raises many types for a broken file
            raise NetworkError(f"cannot read pandapower JSON {path}: {error}") from error
        name = path.stem
        asymmetric = sum(len(net[t]) for t in ("asymmetric_load", "asymmetric_sgen") if t in net)
        if asymmetric:
            logger.info(
                "%s: %d asymmetric loads/generators folded into balanced ones", name, asymmetric
            )
            _symmetric_loads(net)
    validate(net, name)
    return Network(name, net, limits or DEFAULT_LIMITS.get(name, GridLimits()))


def _apply_taps(net: Any, name: str) -> None:
    """pandapower 3.5.6 ignores tap positions of transformers without a
    ``tap_changer_type`` (as in SimBench): a one-step error of 1.6-1.8e-2 pu. Taps off
    neutral are applied explicitly as ratio taps, or rejected if they lack a step."""
    trafo = net.trafo
    if trafo.empty or "tap_changer_type" not in trafo:
        return
    off_neutral = (
        trafo.tap_pos.notna() & trafo.tap_neutral.notna() & (trafo.tap_pos != trafo.tap_neutral)
    )
    untyped = trafo.tap_changer_type.isna()
    for index in trafo.index[off_neutral & untyped]:
        step = trafo.at[index, "tap_step_percent"]
        if not (isinstance(step, float | int) and math.isfinite(step)):
            raise NetworkError(
                f"{name}: trafo {index} '{trafo.at[index, 'name']}' is at tap "
                f"{trafo.at[index, 'tap_pos']} but has no tap_step_percent"
            )
        trafo.at[index, "tap_changer_type"] = "Ratio"
        logger.info(
            "%s: applying tap %s of trafo %s explicitly", name, trafo.at[index, "tap_pos"], index
        )


def slack_buses(net: Any) -> set[int]:
    """Buses that hold the voltage reference: in-service external grids and generators
    marked ``slack`` (pandapower runs either as the slack)."""
    grids = net.ext_grid
    buses = {int(b) for b in grids.bus[grids.in_service]}
    if "gen" in net and "slack" in net.gen:
        gens = net.gen
        buses |= {int(b) for b in gens.bus[gens.in_service & gens.slack.fillna(False)]}
    return buses


def validate(net: Any, name: str) -> None:
    """Raise NetworkError naming the first element that makes ``net`` unusable."""
    import pandapower as pp
    import pandapower.topology as top

    if not slack_buses(net):
        raise NetworkError(
            f"{name}: no external grid (or slack generator) in service (no slack bus)"
        )
    for index, row in net.line.iterrows():
        if row.in_service and not (math.isfinite(row.max_i_ka) and row.max_i_ka > 0):
            raise NetworkError(f"{name}: line {index} '{row['name']}' has no max_i_ka limit")
    for index, row in net.trafo.iterrows():
        if row.in_service and not (math.isfinite(row.sn_mva) and row.sn_mva > 0):
            raise NetworkError(f"{name}: trafo {index} '{row['name']}' has no sn_mva rating")
    unsupplied = sorted(top.unsupplied_buses(net))
    in_service = [b for b in unsupplied if net.bus.at[b, "in_service"]]
    if in_service:
        first = in_service[0]
        raise NetworkError(
            f"{name}: {len(in_service)} bus(es) are islanded from the external grid, "
            f"first bus {first} '{net.bus.at[first, 'name']}'"
        )
    _apply_taps(net, name)
    import copy

    try:
        pp.runpp(copy.deepcopy(net), numba=False)  # results stay off the loaded net
    except pp.LoadflowNotConverged as error:
        raise NetworkError(f"{name}: the base case power flow does not converge") from error
