"""``v2g grid check | headroom | hosting-capacity``: gridmodel from the shell.

Bad input (unknown network, broken JSON, unknown bus, NaN power) raises UsageError,
which the CLI turns into exit status 2 with a one-line reason. A check whose verdict
has violations (or whose power flow does not converge) is a failed run: exit 1.
JSON never holds NaN: a value a flow that did not converge cannot give is null, and
``converged`` says so.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gridmodel import AcGridCheck, GridVerdict, Injection, Network, NetworkError, load_network
from gridmodel.headroom import headroom, hosting_capacity

JsonDict = dict[str, Any]


class GridUsageError(Exception):
    """Bad input to a grid command (exit 2)."""


@dataclass(frozen=True, slots=True)
class GridReport:
    """What a grid command found: the JSON document, its human-readable rendering, and
    whether the run succeeded (False: a verdict with violations, exit 1)."""

    document: JsonDict
    text: str
    ok: bool = True


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _pu(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "n/a"


def _percent(value: float) -> str:
    return f"{value:.1f} %" if math.isfinite(value) else "n/a"


def verdict_document(verdict: GridVerdict) -> JsonDict:
    """A verdict as JSON (the keys README.md lists, plus ``converged``)."""
    return {
        "ok": verdict.ok,
        "converged": verdict.converged,
        "violations": [asdict(v) for v in verdict.violations],
        "max_line_loading_percent": verdict.max_line_loading_percent,
        "max_trafo_loading_percent": verdict.max_trafo_loading_percent,
        "min_vm_pu": verdict.min_vm_pu,
        "max_vm_pu": verdict.max_vm_pu,
    }


def verdict_lines(verdict: GridVerdict) -> list[str]:
    if not verdict.converged:
        return ["  the AC power flow did not converge (no voltages or loadings)"]
    lines = [
        f"  max line loading {_percent(verdict.max_line_loading_percent)}, max trafo "
        f"loading {_percent(verdict.max_trafo_loading_percent)}, voltage "
        f"{_pu(verdict.min_vm_pu)}..{_pu(verdict.max_vm_pu)} pu"
    ]
    lines += [
        f"  {v.element}: {v.metric} {v.value:.4g} (limit {v.limit:g})" for v in verdict.violations
    ]
    return lines


def _check(network: Network, check: AcGridCheck, injections: list[Injection]) -> GridReport:
    """The verdict on ``injections``, with the base case (the network's own loads, no
    injections) beside it when that already breaks a limit."""
    verdict = check.check(injections)
    base = check.check([]) if injections else verdict
    document: JsonDict = {"network": network.name, **verdict_document(verdict)}
    document["base_case"] = verdict_document(base)
    document["limits"] = asdict(network.limits)
    state = "ok" if verdict.ok else ("NOT CONVERGED" if not verdict.converged else "VIOLATIONS")
    base_case = "the base case (the network's own loads, no injections)"
    header = f"{network.name}: {state}" + ("" if injections or base.ok else f" in {base_case}")
    lines = [header, *verdict_lines(verdict)]
    if injections and not base.ok:
        lines += [f"{base_case} already fails:", *verdict_lines(base)]
    return GridReport(json_safe(document), "\n".join(lines), verdict.ok)


def add_grid_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    grid = commands.add_parser("grid", help="feeder limits: check, headroom, hosting capacity")
    actions = grid.add_subparsers(dest="grid_command", required=True)
    check = actions.add_parser("check", help="one grid verdict for the given injections")
    check.add_argument(
        "--injections",
        type=Path,
        help='JSON: [{"bus": "Bus R11", "power_w": 11000}, ...] (+ = load)',
    )
    room = actions.add_parser("headroom", help="per connection point: how much more fits")
    capacity = actions.add_parser(
        "hosting-capacity", help="per bus: the largest charger that could be added"
    )
    for parser in (check, room, capacity):
        parser.add_argument(
            "--network",
            required=True,
            help="built-in name (cigre-lv, ...) or a pandapower JSON file",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON document")


def _load(spec: str) -> Network:
    try:
        return load_network(spec)
    except NetworkError as error:
        raise GridUsageError(str(error)) from error


def read_injections(network: Network, path: Path) -> list[Injection]:
    """Injections from a JSON file; every entry's problem is reported with its index."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GridUsageError(f"cannot read {path}: {error.strerror}") from error
    except ValueError as error:
        raise GridUsageError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(entries, list):
        raise GridUsageError(f"{path} must hold a JSON list of {{bus, power_w}} objects")
    injections: list[Injection] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"bus", "power_w"}:
            raise GridUsageError(f"injection [{index}] must have exactly 'bus' and 'power_w'")
        power = entry["power_w"]
        if (
            isinstance(power, bool)
            or not isinstance(power, int | float)
            or not math.isfinite(power)
        ):
            raise GridUsageError(f"injection [{index}]: power_w must be a finite number")
        try:
            bus = network.resolve_bus(entry["bus"])
        except NetworkError as error:
            raise GridUsageError(f"injection [{index}]: {error}") from error
        injections.append(Injection(bus, float(power)))
    return injections


def run_grid_command(args: argparse.Namespace) -> GridReport:
    """The command's JSON document, its human-readable rendering and its outcome."""
    network = _load(args.network)
    check = AcGridCheck(network)
    if args.grid_command == "check":
        injections = read_injections(network, args.injections) if args.injections else []
        return _check(network, check, injections)
    if args.grid_command == "headroom":
        buses = network.connection_buses()
        rows = headroom(check, buses)
        key = "connection_points"
    else:
        rows = hosting_capacity(check)
        key = "buses"
    document = {
        "network": network.name,
        key: [asdict(r) for r in rows],
        "base_case": verdict_document(check.base_verdict),
        "limits": asdict(network.limits),
    }
    lines = [f"{'bus':>6} {'name':24} {'charge kW':>10} {'discharge kW':>13}  binding (charge)"]
    lines += [
        f"{r.bus:>6} {r.bus_name[:24]:24} {r.charge_w / 1000:>10.1f} "
        f"{r.discharge_w / 1000:>13.1f}  {r.charge_binding}"
        for r in rows
    ]
    if not check.base_verdict.ok:
        lines.append("the base case (the network's own loads) already fails:")
        lines += verdict_lines(check.base_verdict)
    return GridReport(json_safe(document), "\n".join(lines))
