"""Benchmark: gridmodel's AC check, linear model, headroom and plan-and-verify.

    .venv/bin/python -m tests.benchmarks.bench_gridmodel [--evs 100,1000,10000] [--repeat 20]

1. AC check per network (15 to 10,458 buses): median of ``--repeat`` warm checks with
   pandapower's Newton-Raphson (the reference) and with the power-grid-model backend.
2. Linear-model refresh (one pandapower solve and the Jacobian LU at the operating
   point) and the linear headroom of all connection points.
3. Plan and verify against the naive loop where the ask exceeds what the feeder carries
   (three 11 kW vehicles per load bus; MV loads as 500 kW feeders).
4. Plan and verify for ``--evs`` vehicles (11 kW each way) on random load buses of the
   SimBench MV/LV network, asking for 52 % of their charging power, against the naive
   scale-back loop (everyone at the same fraction, scaled by 0.95 until the AC check
   passes) in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gridmodel import BUILT_INS, AcGridCheck, Injection, load_network
from gridmodel.headroom import headroom
from gridmodel.planning import naive_scale_back, plan_and_verify, substation_groups

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


def bench_plans(ev_counts: list[int]) -> None:
    network = load_network(SIMBENCH)
    check = AcGridCheck(network)
    candidates = np.array(network.connection_buses())
    rng = np.random.default_rng(7)
    print(
        f"\n{'EVs':>6} {'buses':>6} {'ask MW':>7} | {'plan MW':>8} {'s':>6} {'ok':>3} "
        f"{'mode':>10} | {'naive MW':>8} {'s':>6} {'ok':>3} | plan/naive"
    )
    for count in ev_counts:
        buses, per_bus = np.unique(rng.choice(candidates, count), return_counts=True)
        upper = per_bus * 11_000.0
        target = 0.52 * upper.sum()
        bus_list = [int(b) for b in buses]
        # Bus by bus for hundreds of buses; per LV grid beyond (see planning docstring).
        groups = substation_groups(network, bus_list) if len(bus_list) > 2000 else None
        plan = plan_and_verify(check, bus_list, -upper, upper, target, groups=groups)
        naive = naive_scale_back(check, bus_list, -upper, upper, target)
        mode = "per bus" if groups is None else f"{max(groups) + 1} grids"
        print(
            f"{count:>6} {len(buses):>6} {target / 1e6:>7.2f} | {plan.total_w / 1e6:>8.2f} "
            f"{plan.plan_s:>6.2f} {plan.verdict.ok!s:>3} {mode:>10} | "
            f"{naive.total_w / 1e6:>8.2f} {naive.plan_s:>6.2f} {naive.verdict.ok!s:>3} | "
            f"{plan.total_w / max(naive.total_w, 1e-9):.2f}x"
        )


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
    args = parser.parse_args()
    bench_checks(args.repeat)
    bench_binding()
    bench_plans([int(n) for n in args.evs.split(",") if n])


if __name__ == "__main__":
    main()
