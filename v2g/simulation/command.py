"""``v2g simulate SCENARIO.json [--out DIR] [--json]`` (docs/scenario.md)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gridmodel import AcGridCheck, NetworkError, load_network
from v2g.cli_arguments import writable_folder
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
    simulate_parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report folder (default: a new folder under the system's temp folder, named "
        "on stderr and in the summary)",
    )
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
    out = _report_folder(args.out, args.scenario.stem)
    print(f"v2g simulate: writing the report to {out}", file=sys.stderr)
    grid = FeederGrid(AcGridCheck(network))
    from tqdm import tqdm

    with tqdm(total=1, unit="step", desc="simulate", leave=False) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        log = simulate(
            scenario, grid, buses.__getitem__, timer=time.perf_counter, progress=progress
        )
    return write_report(out, scenario, log, network.limits) | {"report": str(out)}


def _report_folder(asked: Path | None, stem: str) -> Path:
    """``--out`` once checked writable, else a new temp folder: never beside the
    scenario, which may sit in the source tree (examples/)."""
    if asked is None:
        return Path(tempfile.mkdtemp(prefix=f"v2g-simulate-{stem}-"))
    problem = writable_folder(asked)
    if problem is not None:
        raise SimulateUsageError(f"--out: {problem}")
    return asked


def summary_text(summary: dict[str, Any]) -> str:
    """The summary for a person: energy in kWh, shares in %, the cost in its currency;
    "none" where nothing was asked rather than a 100 % of nothing; one line per vehicle
    that left short and per failed cycle. Keys it does not know print as they are."""
    return "\n".join(summary_rows(summary))


def _kwh(wh: float) -> str:
    return f"{wh / 1000:,.1f} kWh"


def _departures(summary: dict[str, Any]) -> str:
    departed = summary["departed"]
    if not departed:
        return "no departures within the run"
    met = departed - len(summary["short_departures"])
    return f"{met} of {departed} met ({summary['departures_met_percent']:g} %)"


def _dr(summary: dict[str, Any]) -> str:
    if summary["dr_requested_wh"] <= 0:
        return "none asked"
    text = (
        f"asked {_kwh(summary['dr_requested_wh'])}, delivered "
        f"{_kwh(summary['dr_delivered_wh'])} ({summary['dr_delivery_percent']:g} %)"
    )
    beyond = summary.get("dr_beyond_ask_wh", 0.0)
    if beyond >= 50:
        text += f"; {_kwh(beyond)} more than asked (moved for prices, not for DR)"
    return text


def summary_rows(summary: dict[str, Any]) -> list[str]:
    """summary_text's lines."""
    currency = summary.get("currency", "EUR")
    plan_ms = summary["plan_ms"]
    known: list[tuple[tuple[str, ...], str, str]] = [
        (("vehicles",), "vehicles", f"{summary['vehicles']}"),
        (("departed", "departures_met_percent"), "departures", _departures(summary)),
        (
            ("energy_delivered_wh", "energy_requested_wh"),
            "charged for departures",
            f"{_kwh(summary['energy_delivered_wh'])} of "
            f"{_kwh(summary['energy_requested_wh'])} wanted",
        ),
        (
            ("dr_requested_wh", "dr_delivered_wh", "dr_delivery_percent", "dr_beyond_ask_wh"),
            "demand response",
            _dr(summary),
        ),
        (("exported_wh",), "discharged to the grid", _kwh(summary.get("exported_wh", 0.0))),
        (("energy_cost", "currency"), "energy cost", f"{summary['energy_cost']:,.2f} {currency}"),
        (("grid_violations",), "grid violations", f"{summary['grid_violations']}"),
        (
            ("max_line_loading_percent",),
            "max line loading",
            f"{summary['max_line_loading_percent']:.1f} %",
        ),
        (
            ("max_trafo_loading_percent",),
            "max transformer loading",
            f"{summary['max_trafo_loading_percent']:.1f} %",
        ),
        (
            ("min_vm_pu", "max_vm_pu"),
            "voltage",
            f"{summary['min_vm_pu']:.3f} .. {summary['max_vm_pu']:.3f} pu",
        ),
        (
            ("plan_ms",),
            "plan time",
            f"p50 {plan_ms['p50']:g} ms, p99 {plan_ms['p99']:g} ms, max {plan_ms['max']:g} ms",
        ),
        (
            ("strategies",),
            "plans by strategy",
            ", ".join(f"{k} {v}" for k, v in summary["strategies"].items()) or "none",
        ),
        (("failed_cycles", "failures"), "failed cycles", f"{summary['failed_cycles']}"),
    ]
    rows: list[str] = []
    shown: set[str] = set()
    for keys, label, text in known:
        rows.append(f"{label:28} {text}")
        shown.update(keys)
        if label == "failed cycles":
            rows += [f"  {failure}" for failure in summary["failures"]]
    short = summary["short_departures"]
    rows.append(f"{'left short':28} {len(short)}")
    rows += [
        f"  {d['vehicle_id']}: {d['short_wh'] / 1000:.1f} kWh short ({d['reason']})" for d in short
    ]
    shown.add("short_departures")
    for key, value in summary.items():
        if key not in shown:
            rows.append(f"{key.replace('_', ' '):28} {value}")
    return rows
