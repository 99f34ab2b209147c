"""Benchmark: gridmodel's AC check, linear model and headroom.

    .venv/bin/python -m tests.benchmarks.bench_gridmodel [--repeat 20]

1. AC check per network (15 to 10,458 buses): median of ``--repeat`` warm checks with
   pandapower's Newton-Raphson (the reference) and with the power-grid-model backend.
2. Linear-model refresh (one pandapower solve and the Jacobian LU at the operating
   point) and the linear headroom of all connection points.
"""

from __future__ import annotations

import argparse
import statistics
import time

from gridmodel import BUILT_INS, AcGridCheck, Injection, load_network
from gridmodel.headroom import headroom


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    bench_checks(args.repeat)


if __name__ == "__main__":
    main()
