"""Any valid pandapower network through the AC check, the planner's rows and headroom.

A matrix over small hand-built networks of each kind a user's file may hold (a
transformer-only depot, a three-winding transformer, switches open and closed,
out-of-service elements, PV and storage, two external grids, a voltage-controlled
generator, meshed MV, ZIP loads, wards and a series impedance, SimBench rural LV and MV)
and the built-in networks, each loaded from a pandapower JSON
file as a user's would be. For each: the AC verdict agrees with pandapower's own
``runpp`` on an independent copy; ``FeederGrid.rows`` predicts small moves within
ROW_VM_PU and ROW_LOADING_POINTS; verified headroom never breaks the AC check.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pandapower as pp
import pytest

from gridmodel import AcGridCheck, GridLimits, Injection, load_network
from gridmodel.headroom import headroom
from gridmodel.limits import with_margin
from gridmodel.networks import LV_BAND
from tests.feeder.networks import HAND_BUILT
from v2g.dispatch.grid import POLYGON_SIDES
from v2g.feeder import FeederGrid

#: Stated tolerance of the rows for small moves (a few kW per LV bus, tens of kW per
#: MV bus): voltage in pu, loading in percentage points of the rating.
ROW_VM_PU = 5e-4
ROW_LOADING_POINTS = 0.5
#: Tolerance between the check (pi transformer model, warm-started) and a cold
#: ``runpp`` with pandapower's defaults on an independent copy.
RUNPP_VM_PU = 2e-3
RUNPP_LOADING_POINTS = 1.0

BUILT_IN = ["cigre-lv", "cigre-mv", "kerber-dorf", "ieee-eu-lv", "mv-oberrhein"]
SIMBENCH = "1-MVLV-urban-all-0-sw"
#: Hand-built networks on CIGRE LV keep its EN 50160 band (their file names do not).
LIMITS = {"out-of-service": LV_BAND, "pv-and-storage": LV_BAND, "voltage-dependent-loads": LV_BAND}
CASES = [*HAND_BUILT, *BUILT_IN, SIMBENCH]


@pytest.fixture(scope="module")
def built() -> dict[str, tuple[AcGridCheck, FeederGrid, list[int]]]:
    """Feeders built so far in this module (SimBench takes ~50 s to build)."""
    return {}


@pytest.fixture
def feeder(request, tmp_path_factory, built):
    """(check, FeederGrid, up to six connection buses) for a network from a JSON file."""
    name = request.param
    if name not in built:
        net = HAND_BUILT[name]() if name in HAND_BUILT else load_network(name).net
        path = tmp_path_factory.mktemp("nets") / f"{name}.json"
        pp.to_json(net, str(path))
        network = load_network(path, LIMITS.get(name) or load_network_limits(name))
        check = AcGridCheck(network)
        candidates = network.connection_buses()
        picks = np.linspace(0, len(candidates) - 1, min(6, len(candidates))).round()
        buses = sorted({candidates[int(i)] for i in picks})
        built[name] = (check, FeederGrid(check), buses)
    return built[name]


def load_network_limits(name: str) -> GridLimits | None:
    from gridmodel.networks import DEFAULT_LIMITS

    return DEFAULT_LIMITS.get(name)


def move_w(check: AcGridCheck, buses: list[int], rng: np.random.Generator) -> np.ndarray:
    """A small random move per bus: +-3 kW on LV buses, +-60 kW on MV buses."""
    kv = check.network.net.bus.vn_kv.loc[buses].to_numpy(dtype=float)
    return rng.uniform(-1, 1, len(buses)) * np.where(kv < 1.0, 3_000.0, 60_000.0)


def runpp_values(check: AcGridCheck, injections: list[Injection]):
    """Voltages and loadings from pandapower's own ``runpp`` on a fresh copy."""
    net = copy.deepcopy(check.network.net)
    for injection in injections:
        pp.create_load(net, injection.bus, p_mw=injection.power_w / 1e6)
    pp.runpp(net, numba=False)
    loading = {f"line {i}": v for i, v in net.res_line.loading_percent.items()}
    loading |= {f"trafo {i}": v for i, v in net.res_trafo.loading_percent.items()}
    if "trafo3w" in net:
        loading |= {f"trafo3w {i}": v for i, v in net.res_trafo3w.loading_percent.items()}
    return net.res_bus.vm_pu, loading


def element_key(element: str) -> str:
    return " ".join(element.split()[:2])


@pytest.mark.parametrize("feeder", CASES, indirect=True)
def test_the_ac_verdict_agrees_with_pandapowers_own_runpp(feeder):
    check, _, buses = feeder
    rng = np.random.default_rng(1)
    for _ in range(3):
        injections = [
            Injection(b, float(w))
            for b, w in zip(buses, move_w(check, buses, rng) * 5, strict=True)
        ]
        verdict = check.check(injections)
        assert verdict.converged
        vm, loading = runpp_values(check, injections)
        assert abs(verdict.min_vm_pu - np.nanmin(vm)) < RUNPP_VM_PU
        assert abs(verdict.max_vm_pu - np.nanmax(vm)) < RUNPP_VM_PU
        limits = check.limits
        flagged = {element_key(v.element) for v in verdict.violations}
        for key, value in loading.items():
            limit = (
                limits.max_line_loading_percent
                if key.startswith("line")
                else limits.max_trafo_loading_percent
            )
            if np.isfinite(value) and abs(value - limit) > RUNPP_LOADING_POINTS:
                assert (key in flagged) == (value > limit), key
        for bus, value in vm.items():
            if not np.isfinite(value):
                continue
            edge = min(abs(value - limits.vm_pu_max), abs(value - limits.vm_pu_min))
            if edge > RUNPP_VM_PU:
                broken = not limits.vm_pu_min <= value <= limits.vm_pu_max
                assert (f"bus {bus}" in flagged) == broken, bus


def predicted_by_rows(rows, x: np.ndarray, vm_pu_max: float):
    """What the rows say about the state after ``x``: voltage per bus from the upper
    band rows, loading per branch as the largest polygon projection."""
    slack = rows.b - rows.a @ x
    vm: dict[str, float] = {}
    loading: dict[str, float] = {}
    for label, room in zip(rows.labels, slack, strict=True):
        element, rest = label.split(" vm_pu ") if " vm_pu " in label else (None, None)
        if element is not None and rest.startswith("<="):
            vm[element_key(element)] = vm_pu_max - room
        elif " loading_percent <= " in label:
            element, limit = label.split(" loading_percent <= ")
            value = float(limit) * np.cos(np.pi / POLYGON_SIDES) - room
            key = element_key(element)
            loading[key] = max(loading.get(key, -np.inf), value)
    return vm, loading


@pytest.mark.parametrize("feeder", CASES, indirect=True)
def test_the_planner_rows_predict_small_moves(feeder):
    check, grid, buses = feeder
    n = len(buses)
    far = np.full(n, 1e9)  # every element counts as able to bind: all rows come back
    rows = grid.rows(np.eye(n), buses, far, -far, 1.0, 0.0, max_rows=1_000_000)
    assert rows.count > 0, "grid-blind: no rows at all"
    vm_pu_max = with_margin(check.limits).vm_pu_max
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = move_w(check, buses, rng)
        vm_rows, loading_rows = predicted_by_rows(rows, x, vm_pu_max)
        check.reference([Injection(b, float(w)) for b, w in zip(buses, x, strict=True)])
        net = check.flow.net
        for key, predicted in vm_rows.items():
            actual = net.res_bus.vm_pu.at[int(key.split()[1])]
            assert abs(predicted - actual) < ROW_VM_PU, key
        shrink = np.cos(np.pi / POLYGON_SIDES)
        for key, predicted in loading_rows.items():
            kind, index = key.split()
            actual = getattr(net, f"res_{kind}").loading_percent.at[int(index)]
            assert actual * shrink - ROW_LOADING_POINTS <= predicted, key
            assert predicted <= actual + ROW_LOADING_POINTS, key


@pytest.mark.parametrize("feeder", CASES, indirect=True)
def test_verified_headroom_never_breaks_the_ac_check(feeder):
    check, _, buses = feeder
    for room in headroom(check, buses[:3]):
        assert room.charge_w >= 0 and room.discharge_w >= 0
        if not check.check([]).ok:
            assert room.charge_w == room.discharge_w == 0.0
            continue
        assert room.charge_binding and room.discharge_binding
        if room.charge_w > 0:
            assert check.check([Injection(room.bus, room.charge_w)]).ok
        if room.discharge_w > 0:
            assert check.check([Injection(room.bus, -room.discharge_w)]).ok


def test_a_transformer_only_depot_is_checked_with_power_grid_model(tmp_path):
    path = tmp_path / "depot.json"
    pp.to_json(HAND_BUILT["depot"](), str(path))
    check = AcGridCheck(load_network(path))
    assert check.backend == "power-grid-model"
    lv = check.network.resolve_bus("depot LV")
    assert check.check([Injection(lv, 100_000)]).ok
    [violation] = check.check([Injection(lv, 500_000)]).violations
    assert violation.element == "trafo 0 'depot trafo'"


def test_elements_power_grid_model_lacks_fall_back_to_pandapower_once_in_the_log(tmp_path, caplog):
    path = tmp_path / "t3.json"
    pp.to_json(HAND_BUILT["three-winding"](), str(path))
    with caplog.at_level(logging.INFO, logger="gridmodel.check"):
        check = AcGridCheck(load_network(path))
    assert check.backend == "pandapower"
    assert [r for r in caplog.records if "trafo3w" in r.getMessage()]


def test_an_overloaded_three_winding_transformer_is_a_violation(tmp_path):
    path = tmp_path / "t3.json"
    pp.to_json(HAND_BUILT["three-winding"](), str(path))
    check = AcGridCheck(load_network(path))
    lv = int(check.network.net.trafo3w.lv_bus.iloc[0])
    verdict = check.check([Injection(lv, 45e6)])  # beyond the 38 MVA winding
    assert "trafo3w 0 'T3'" in {v.element for v in verdict.violations}


def test_storage_counts_in_the_fast_check(tmp_path):
    path = tmp_path / "pv.json"
    pp.to_json(HAND_BUILT["pv-and-storage"](), str(path))
    network = load_network(path, LV_BAND)
    fast, reference = AcGridCheck(network), AcGridCheck(network, backend="pandapower")
    assert fast.backend == "power-grid-model"
    assert abs(fast.check([]).min_vm_pu - reference.check([]).min_vm_pu) < 1e-6


def test_without_a_jacobian_the_rows_come_from_finite_differences(monkeypatch, caplog):
    import gridmodel.check

    def no_jacobian(*args, **kwargs):
        raise KeyError("branch")

    network = load_network("cigre-lv")
    monkeypatch.setattr(gridmodel.check, "OperatingPoint", no_jacobian)
    with caplog.at_level(logging.WARNING, logger="gridmodel.check"):
        grid = FeederGrid(AcGridCheck(network))
    assert [r for r in caplog.records if "finite differences" in r.getMessage()]
    buses = network.connection_buses()[:4]
    far = np.full(len(buses), 1e9)
    rows = grid.rows(np.eye(len(buses)), buses, far, -far, 1.0, 0.0, max_rows=1_000_000)
    x = np.full(len(buses), 2_000.0)
    vm_rows, _ = predicted_by_rows(rows, x, with_margin(network.limits).vm_pu_max)
    check = AcGridCheck(network)
    check.reference([Injection(b, 2_000.0) for b in buses])
    for key, predicted in vm_rows.items():
        actual = check.flow.net.res_bus.vm_pu.at[int(key.split()[1])]
        assert abs(predicted - actual) < ROW_VM_PU, key


def test_asymmetric_loads_in_a_file_count_as_balanced_ones(tmp_path, caplog):
    """A balanced power flow ignores pandapower's asymmetric loads; the check must not."""
    path = tmp_path / "asym.json"
    pp.to_json(HAND_BUILT["ward-and-impedance"](), str(path))
    with caplog.at_level(logging.INFO, logger="gridmodel.networks"):
        network = load_network(path)
    assert [r for r in caplog.records if "asymmetric" in r.getMessage()]
    assert network.net.asymmetric_load.empty
    assert "one phase" in set(network.net.load.name)
    lv = network.resolve_bus("depot LV")
    with_it = AcGridCheck(network).check([]).max_trafo_loading_percent
    without = AcGridCheck(network).check([Injection(lv, -20_000)]).max_trafo_loading_percent
    assert with_it > without
