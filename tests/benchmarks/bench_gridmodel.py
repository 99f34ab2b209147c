"""Benchmark: gridmodel's AC check, linear model, headroom and plan-and-verify.

    .venv/bin/python -m tests.benchmarks.bench_gridmodel [--evs 100,1000,10000] [--repeat 20]
        [--plan-repeat 5] [--plans-only]

1. AC check per network (15 to 10,458 buses): median of ``--repeat`` warm checks with
   pandapower's Newton-Raphson (the reference) and with the power-grid-model backend.
2. Linear-model refresh (one pandapower solve and the Jacobian LU at the operating
   point) and the linear headroom of all connection points.
3. Plan and verify against the naive loop where the ask exceeds what the feeder carries
   (three 11 kW vehicles per load bus; MV loads as 500 kW feeders).
4. Plan and verify for ``--evs`` vehicles (11 kW each way) on random load buses of the
   SimBench MV/LV network (its own loads and generation as shipped), asking for 52 %
   of their charging power. Median of ``--plan-repeat`` runs, every method on the same
   vehicles, ask and network in the same run:
   - ``tree``: the default planner (LinDistFlow capacity functions per LV grid, one
     MV program, AC-verified);
   - ``tree-lp``: the same loop with one LinDistFlow LP over the whole radial tree
     (HiGHS interior point): the "LP over the radial tree" of issue 4; one run;
   - ``scp/grid``: the Jacobian planner per LV grid (the previous default at scale);
   - ``naive``: everyone at the same fraction, scaled by 0.95 until the AC check passes;
   - ``naive/grid``: the same, but only the LV grids with a violation are scaled back
     (all of them for a violation on the MV network), a fairer baseline: one weak
     transformer no longer holds back the whole fleet.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gridmodel import BUILT_INS, AcGridCheck, Injection, load_network
from gridmodel.headroom import headroom
from gridmodel.planning import GridPlan, naive_scale_back, plan_and_verify, substation_groups
from gridmodel.verdict import Violation

SIMBENCH = "1-MVLV-urban-all-0-sw"


def timed(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000.0


def bench_network(name: str, repeat: int) -> str:
    network = load_network(name)
    check = AcGridCheck(network)
    reference = AcGridCheck(network, backend="pandapower")
    points = network.connection_buses()
    injection = [Injection(points[0], 5_000.0)]
    pandapower_ms = timed(lambda: reference.check(injection), repeat)
    fast_ms = timed(lambda: check.check(injection), repeat)
    point_ms = timed(lambda: check.operating_point([]), max(3, repeat // 4))
    headroom_ms = timed(lambda: headroom(check, points, verify=False), 1)
    return (
        f"{name:24} {len(network.net.bus):>6} {pandapower_ms:>14.1f} {fast_ms:>9.2f} "
        f"{pandapower_ms / fast_ms:>7.1f}x {point_ms:>11.1f} {headroom_ms:>13.1f} "
        f"{len(points):>7}"
    )


def bench_checks(repeat: int) -> None:
    print(
        f"{'network':24} {'buses':>6} {'pandapower ms':>14} {'pgm ms':>9} {'ratio':>8} "
        f"{'refresh ms':>11} {'headroom ms':>13} {'points':>7}"
    )
    for name in BUILT_INS:
        print(bench_network(name, repeat))


def _grid_of_element(check: AcGridCheck) -> dict[tuple[str, int], int]:
    """(kind, index) of every bus, line and transformer -> its LV grid (-1: MV)."""
    tree = check.tree
    assert tree is not None
    net = check.network.net
    found: dict[tuple[str, int], int] = {}
    for bus, node in tree.node_of_bus.items():
        found["bus", bus] = int(tree.lv_grid[node])
    for node in range(1, tree.size):
        table = net.line if tree.kind[node] == 0 else net.trafo
        kind = "line" if tree.kind[node] == 0 else "trafo"
        found[kind, int(table.index[tree.element[node]])] = int(tree.lv_grid[node])
    return found


def naive_per_grid(
    check: AcGridCheck, buses: list[int], upper: np.ndarray, target: float, factor: float = 0.95
) -> GridPlan:
    """Naive scale-back per LV grid: each grid's vehicles at one fraction, and only the
    grids with a violation scaled back (all of them for one on the MV network)."""
    started = time.perf_counter()
    tree = check.tree
    assert tree is not None
    grid_of = _grid_of_element(check)
    grids = np.array([tree.lv_grid[tree.node_of_bus[b]] for b in buses])
    fraction = np.full(len(buses), min(1.0, target / upper.sum()))
    rounds = 0
    while True:
        rounds += 1
        plan = upper * fraction
        verdict = check.check([Injection(b, float(w)) for b, w in zip(buses, plan, strict=True)])
        if verdict.ok or rounds == 200:
            return GridPlan(tuple(buses), plan, verdict, rounds, time.perf_counter() - started, 0)
        hit = {grid_of.get(_element_key(v), -1) for v in verdict.violations}
        scale = np.ones(len(buses)) if -1 in hit else np.isin(grids, list(hit))
        fraction = np.where(scale, fraction * factor, fraction)


def _element_key(violation: Violation) -> tuple[str, int]:
    kind, index = violation.element.split()[:2]
    return kind, int(index)


METHODS = ("tree", "tree-lp", "scp/grid", "naive", "naive/grid")
#: The slow references run once.
ONCE = ("tree-lp", "scp/grid")


def run_method(
    name: str,
    check: AcGridCheck,
    buses: list[int],
    upper: np.ndarray,
    target: float,
    groups: list[int],
) -> GridPlan:
    """One plan for ``target`` by the method called ``name`` (see METHODS)."""
    if name == "tree":
        return plan_and_verify(check, buses, -upper, upper, target)
    if name == "tree-lp":
        return plan_and_verify(check, buses, -upper, upper, target, method="tree-lp")
    if name == "scp/grid":
        return plan_and_verify(check, buses, -upper, upper, target, groups=groups)
    if name == "naive":
        return naive_scale_back(check, buses, -upper, upper, target)
    return naive_per_grid(check, buses, upper, target)


def bench_plans(ev_counts: list[int], repeat: int) -> None:
    network = load_network(SIMBENCH)
    check = AcGridCheck(network)
    candidates = np.array(network.connection_buses())
    rng = np.random.default_rng(7)
    print(
        f"\nPlan and verify on {SIMBENCH}: MW delivered, seconds (median of {repeat} runs; "
        "tree-lp and scp/grid once), AC violations"
    )
    print(
        f"{'EVs':>6} {'buses':>6} {'ask MW':>7} | "
        + " | ".join(
            f"{name:>18}" for name in ("tree", "tree-lp", "scp/grid", "naive", "naive/grid")
        )
    )
    for count in ev_counts:
        buses, per_bus = np.unique(rng.choice(candidates, count), return_counts=True)
        upper = per_bus * 11_000.0
        target = 0.52 * upper.sum()
        bus_list = [int(b) for b in buses]
        groups = substation_groups(network, bus_list)
        cells = []
        for name in METHODS:
            times = 1 if name in ONCE else repeat
            plans = [
                run_method(name, check, bus_list, upper, target, groups) for _ in range(times)
            ]
            seconds = statistics.median(p.plan_s for p in plans)
            violations = max(len(p.verdict.violations) for p in plans)
            cells.append(f"{plans[0].total_w / 1e6:>7.2f} {seconds:>6.3f}s {violations:>3}")
        print(f"{count:>6} {len(buses):>6} {target / 1e6:>7.2f} | " + " | ".join(cells))


def bench_binding() -> None:
    """Asks beyond what the feeder carries: three 11 kW vehicles per load bus."""
    print(
        f"\n{'network':14} {'buses':>6} {'ask MW':>7} | {'plan MW':>8} {'s':>6} {'ok':>3} | "
        f"{'naive MW':>8} {'s':>6} {'ok':>3} | plan/naive"
    )
    for name, ask_w in (("cigre-lv", 0.4e6), ("kerber-dorf", 0.6e6), ("mv-oberrhein", 60e6)):
        network = load_network(name)
        check = AcGridCheck(network)
        buses = network.connection_buses()
        scale = 500e3 / 11e3 if name == "mv-oberrhein" else 1.0  # MV loads are feeders
        upper = np.full(len(buses), 3 * 11_000.0 * scale)
        plan = plan_and_verify(check, buses, -upper, upper, ask_w)
        naive = naive_scale_back(check, buses, -upper, upper, ask_w)
        print(
            f"{name:14} {len(buses):>6} {ask_w / 1e6:>7.2f} | {plan.total_w / 1e6:>8.3f} "
            f"{plan.plan_s:>6.2f} {plan.verdict.ok!s:>3} | {naive.total_w / 1e6:>8.3f} "
            f"{naive.plan_s:>6.2f} {naive.verdict.ok!s:>3} | "
            f"{plan.total_w / max(naive.total_w, 1e-9):.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--evs", default="100,1000,10000")
    parser.add_argument("--plan-repeat", type=int, default=5)
    parser.add_argument("--plans-only", action="store_true")
    args = parser.parse_args()
    if not args.plans_only:
        bench_checks(args.repeat)
        bench_binding()
    bench_plans([int(n) for n in args.evs.split(",") if n], args.plan_repeat)


if __name__ == "__main__":
    main()
