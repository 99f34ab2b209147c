"""Benchmark: gridmodel's AC check, linear model, headroom and plan-and-verify.

    .venv/bin/python -m tests.benchmarks.bench_gridmodel [--evs 100,1000] [--repeat 20]

1. AC check per network (44 to 10,458 buses): median of ``--repeat`` warm checks with
   pandapower's Newton-Raphson (the reference; see DECISIONS.md #9 for power-grid-model).
2. Linear-model refresh (Jacobian LU at the operating point) and headroom for all
   connection points (linear estimate, and AC-verified where the network is small).
3. Plan and verify for ``--evs`` vehicles (11 kW each way) on random load buses of the
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
from gridmodel.linear import OperatingPoint
from gridmodel.planning import naive_scale_back, plan_and_verify

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
    points = network.connection_buses()
    check.check([])  # warm start
    check_ms = timed(lambda: check.check([Injection(points[0], 5_000.0)]), repeat)
    check.check([])
    refresh_ms = timed(lambda: OperatingPoint(check.flow, check.limits), max(3, repeat // 4))
    headroom_ms = timed(lambda: headroom(check, points, verify=False), 3)
    return (
        f"{name:24} {len(network.net.bus):>6} {check_ms:>12.1f} {refresh_ms:>11.1f} "
        f"{headroom_ms:>21.1f} {len(points):>7}"
    )


def bench_checks(repeat: int) -> None:
    print(
        f"{'network':24} {'buses':>6} {'AC check ms':>12} {'refresh ms':>11} "
        f"{'headroom (linear) ms':>21} {'points':>7}"
    )
    for name in BUILT_INS:
        print(bench_network(name, repeat))


def bench_plans(ev_counts: list[int]) -> None:
    network = load_network(SIMBENCH)
    check = AcGridCheck(network)
    check.check([])
    candidates = np.array(network.connection_buses())
    rng = np.random.default_rng(7)
    print(
        f"\n{'EVs':>6} {'buses':>6} {'ask MW':>7} | {'plan MW':>8} {'s':>6} {'ok':>3} "
        f"{'rounds':>6} | {'naive MW':>8} {'s':>6} {'ok':>3} | plan/naive"
    )
    for count in ev_counts:
        buses, per_bus = np.unique(rng.choice(candidates, count), return_counts=True)
        upper = per_bus * 11_000.0
        target = 0.52 * upper.sum()
        bus_list = [int(b) for b in buses]
        plan = plan_and_verify(check, bus_list, -upper, upper, target)
        naive = naive_scale_back(check, bus_list, -upper, upper, target)
        print(
            f"{count:>6} {len(buses):>6} {target / 1e6:>7.2f} | {plan.total_w / 1e6:>8.2f} "
            f"{plan.plan_s:>6.2f} {plan.verdict.ok!s:>3} {plan.rounds:>6} | "
            f"{naive.total_w / 1e6:>8.2f} {naive.plan_s:>6.2f} {naive.verdict.ok!s:>3} | "
            f"{plan.total_w / max(naive.total_w, 1e-9):.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--evs", default="100,1000")
    args = parser.parse_args()
    bench_checks(args.repeat)
    bench_plans([int(n) for n in args.evs.split(",") if n])


if __name__ == "__main__":
    main()
