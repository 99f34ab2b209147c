"""Benchmark: the SECC's charge-loop answers on the wire while other processes load
every core (issue 21: "the SECC on a busy charger").

    .venv/bin/python -m tests.benchmarks.bench_secc_busy [--loops 400] [--load 4]   (as root)

For each variant (no extra load; ``--load`` busy processes at normal priority, the SECC
at normal priority; the same load with ``realtime_priority = 10`` in the charger file)
it starts ``v2g secc`` with one 150 kW DC EVSE in a network namespace and runs one
scripted ISO 15118-2 DC session (``tests.integration.renegotiating_vehicle``) that
sends ``--loops`` CurrentDemandReqs 50 ms apart once 150 A flow. Each answer is timed
on the EV's side of the veth link, from writing the request to reading the whole
response: what an EV sees against the 25 ms of DIN SPEC 70121 / ISO 15118-2. The EV
is the measuring instrument (a real one is a separate computer), so it runs under
``chrt -f 20`` and its own scheduling stays out of the numbers. The goal: p99 < 10 ms
and no answer over 25 ms.

The machine is shared: the load average (1 min) is printed before and after each
variant; read the numbers with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.integration.processes import v2g_process
from tests.integration.renegotiating_vehicle import CHARGE, Plan
from v2g.secc.loopback.netns import veth_link
from v2g.secc.loopback.report import latency_summary

CHARGER_TOML = (
    "{priority}"
    '[[evse]]\nevse_id = "DE*V2G*E0150"\ninterface = "{interface}"\ncurrent = "dc"\n'
    "max_charge_power_w = 150000\nmax_current_a = 200\nmax_voltage_v = 500\n"
    "fallback_power_w = 100000\n"
)
BUDGET_MS = 25.0
GOAL_P99_MS = 10.0
#: Each a process that keeps one core busy at normal priority.
BUSY_LOOP = "while True:\n    pass\n"


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text(encoding="utf-8").split()[0])


def run_variant(name: str, loops: int, load: int, priority: int | None) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-busy-{name}-"))
    busy = [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdout=subprocess.DEVNULL)
        for _ in range(load)
    ]
    try:
        with veth_link(f"bb{os.getpid() % 10000}") as (charger, vehicle):
            config = work / "charger.toml"
            config.write_text(
                CHARGER_TOML.format(
                    priority=f"realtime_priority = {priority}\n" if priority else "",
                    interface=charger.interface,
                ),
                encoding="utf-8",
            )
            with v2g_process(charger, work / "secc.log", "secc", "--config", str(config)):
                load_before = load_average()
                result = drive(vehicle, work, loops)
                load_after = load_average()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    loop_ms = [ms for request, ms in result["wire_ms"] if request == "CurrentDemandReq"]
    all_ms = [ms for _, ms in result["wire_ms"]]
    return {
        "variant": name,
        "load_processes": load,
        "realtime_priority": priority,
        "completed": result["completed"],
        "error": result["error"],
        "load_average_1min": [load_before, load_after],
        "current_demand": len(loop_ms),
        "current_demand_wire_ms": latency_summary(loop_ms),
        "current_demand_over_25_ms": sum(ms > BUDGET_MS for ms in loop_ms),
        "current_demand_over_10_ms": sum(ms > GOAL_P99_MS for ms in loop_ms),
        "all_requests_wire_ms": latency_summary(all_ms),
        "secc_log": str(work / "secc.log"),
    }


def drive(vehicle, work: Path, loops: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    plan = work / "plan.json"
    plan.write_text(
        json.dumps(asdict(Plan(interface=vehicle.interface, action=CHARGE, charge_loops=loops))),
        encoding="utf-8",
    )
    done = subprocess.run(
        vehicle.command(
            "chrt",
            "-f",
            "20",
            sys.executable,
            "-m",
            "tests.integration.renegotiating_vehicle",
            str(plan),
        ),
        check=False,
        capture_output=True,
        text=True,
        timeout=60 + loops,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the vehicle failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=400, help="CurrentDemandReqs per session")
    parser.add_argument("--load", type=int, default=4, help="busy processes (2 per core)")
    parser.add_argument(
        "--variants",
        default="idle,loaded,loaded-rt",
        help="comma-separated: idle, loaded, loaded-rt",
    )
    args = parser.parse_args()
    settings = {
        "idle": (0, None),
        "loaded": (args.load, None),
        "loaded-rt": (args.load, 10),
    }
    reports = []
    for name in args.variants.split(","):
        load, priority = settings[name]
        report = run_variant(name, args.loops, load, priority)
        reports.append(report)
        print(json.dumps(report), file=sys.stderr, flush=True)
    print(json.dumps({"goal_p99_ms": GOAL_P99_MS, "budget_ms": BUDGET_MS, "variants": reports}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
