"""``v2g simulate SCENARIO.json [--out DIR] [--json]`` (docs/scenario.md)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gridmodel import AcGridCheck, NetworkError, load_network
from v2g.feeder import FeederGrid
from v2g.simulation.report import write_report
from v2g.simulation.run import simulate
from v2g.simulation.scenario import InvalidScenario, parse_scenario


class SimulateUsageError(Exception):
    """A scenario that cannot run (exit 2)."""


def add_simulate_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    simulate_parser = commands.add_parser(
        "simulate",
        help="run the aggregator on a scenario in simulated time",
        epilog="The scenario format and the report files: docs/scenario.md.",
    )
    simulate_parser.add_argument(
        "scenario", type=Path, help="scenario JSON file (docs/scenario.md)"
    )
    simulate_parser.add_argument("--out", type=Path, default=None, help="report folder")
    simulate_parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run_simulate(args: argparse.Namespace) -> dict[str, Any]:
    """Run the scenario of ``args``; returns the summary (raises SimulateUsageError)."""
    try:
        data = json.loads(args.scenario.read_text(encoding="utf-8"))
    except OSError as error:
        raise SimulateUsageError(f"cannot read {args.scenario}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise SimulateUsageError(f"{args.scenario}: not JSON ({error})") from error
    try:
        scenario = parse_scenario(data)
        network = load_network(scenario.network, scenario.limits)
        buses = {v.bus: network.resolve_bus(v.bus) for v in scenario.vehicles}
    except (InvalidScenario, NetworkError) as error:
        raise SimulateUsageError(str(error)) from error
    grid = FeederGrid(AcGridCheck(network))
    out = args.out or args.scenario.with_suffix("").with_name(args.scenario.stem + "-report")
    from tqdm import tqdm

    with tqdm(total=1, unit="step", desc="simulate", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        log = simulate(
            scenario, grid, buses.__getitem__, timer=time.perf_counter, progress=progress
        )
    return write_report(out, scenario, log) | {"report": str(out)}


def summary_text(summary: dict[str, Any]) -> str:
    """The summary for a person: one line per figure, one per vehicle that left short
    and per failed cycle."""
    rows = []
    for key, value in summary.items():
        if key == "short_departures":
            rows.append(f"{key:28} {len(value)}")
            rows += [
                f"  {d['vehicle_id']}: {d['short_wh'] / 1000:.1f} kWh short ({d['reason']})"
                for d in value
            ]
        elif key == "failures":
            rows += [f"  {failure}" for failure in value]
        elif isinstance(value, dict):
            rows.append(f"{key:28} " + ", ".join(f"{k} {v}" for k, v in value.items()))
        else:
            rows.append(f"{key:28} {value}")
    return "\n".join(rows)
