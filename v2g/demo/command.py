"""``v2g demo [--fleet N] [--feeder NAME] [--hours H] [--speed X] [--serve] [--json]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from gridmodel import BUILT_INS, NetworkError
from v2g.demo.run import DemoOptions, run_demo

#: Simulated seconds per wall-clock second when the dashboard watches (a 15-minute
#: step every 1.5 s: a day in under three minutes).
WATCHED_SPEED = 600.0


class DemoUsageError(Exception):
    """Options the demo cannot run with (exit 2)."""


def add_demo_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo", help="the aggregator on a simulated fleet and a built-in feeder, one day"
    )
    demo.add_argument("--fleet", type=int, default=24, help="vehicles (default 24)")
    demo.add_argument("--feeder", default="cigre-lv", help=f"one of {', '.join(BUILT_INS)}")
    demo.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    demo.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated seconds per second (default: as fast as possible; "
        f"{WATCHED_SPEED:g} with --serve)",
    )
    demo.add_argument("--serve", action="store_true", help="keep the dashboard up")
    demo.add_argument("--host", default="127.0.0.1", help="with --serve (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=8080, help="with --serve (default 8080)")
    demo.add_argument(
        "--out", type=Path, default=Path("v2g-demo"), help="report folder (default ./v2g-demo)"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")


def options_of(args: argparse.Namespace) -> DemoOptions:
    if not 1 <= args.fleet <= 5000:
        raise DemoUsageError(f"--fleet must lie within 1..5000, got {args.fleet}")
    if not 0.25 <= args.hours <= 168:
        raise DemoUsageError(f"--hours must lie within 0.25..168, got {args.hours:g}")
    speed = args.speed if args.speed is not None else (WATCHED_SPEED if args.serve else 0.0)
    if speed < 0:
        raise DemoUsageError(f"--speed must be >= 0, got {speed:g}")
    return DemoOptions(
        vehicles=args.fleet,
        feeder=args.feeder,
        hours=args.hours,
        speed=speed,
        out=args.out,
        serve=args.serve,
        host=args.host,
        port=args.port,
    )


def run_demo_command(args: argparse.Namespace) -> dict[str, Any] | None:
    """Runs the demo of ``args``, printing the summary (raises DemoUsageError);
    None when stopped by SIGINT or SIGTERM (which also end ``--serve``)."""
    options = options_of(args)
    from tqdm import tqdm

    def say(text: str) -> None:
        tqdm.write(text, file=sys.stderr)

    with tqdm(total=1, unit="step", desc="demo day", file=sys.stderr) as bar:

        def show(summary: dict[str, Any]) -> None:
            bar.close()  # the summary goes below a finished bar
            print(json.dumps(summary) if args.json else summary_table(summary), flush=True)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        async def stoppable() -> dict[str, Any]:
            # Also when started in the background, where SIGINT is ignored by default.
            task = asyncio.current_task()
            assert task is not None
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
            return await run_demo(options, say, show, progress)

        try:
            return asyncio.run(stoppable())
        except asyncio.CancelledError:
            say("demo stopped")
            return None
        except NetworkError as error:
            raise DemoUsageError(str(error)) from error
        except OSError as error:
            if args.serve:
                raise DemoUsageError(
                    f"cannot serve on {args.host}:{args.port}: {error}"
                ) from error
            raise


ROWS = (
    ("vehicles", "vehicles", ""),
    ("departures_met_percent", "departures met", "%"),
    ("energy_delivered_wh", "energy charged for departures", "Wh"),
    ("dr_requested_wh", "DR energy asked", "Wh"),
    ("dr_delivered_wh", "DR energy delivered", "Wh"),
    ("dr_delivery_percent", "DR delivery", "%"),
    ("grid_violations", "grid violations", ""),
    ("max_line_loading_percent", "max line loading", "%"),
    ("max_trafo_loading_percent", "max transformer loading", "%"),
    ("min_vm_pu", "min voltage", "pu"),
    ("max_vm_pu", "max voltage", "pu"),
    ("energy_cost", "energy cost", ""),
    ("plans_stored", "plans stored", ""),
    ("wall_s", "wall time", "s"),
)


def summary_table(summary: dict[str, Any]) -> str:
    lines = [f"v2g demo on {summary['feeder']}, {summary['hours']:g} h simulated"]
    for key, label, unit in ROWS:
        lines.append(f"  {label:32} {summary[key]:>12} {unit}")
    plan_ms = summary["plan_ms"]
    lines.append(
        f"  {'plan time p50 / p99 / max':32} "
        f"{plan_ms['p50']:>6} / {plan_ms['p99']} / {plan_ms['max']} ms"
    )
    lines.append(f"  report (CSV, summary.json, overview.png): {summary['report']}")
    return "\n".join(lines)
