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
from v2g.cli_arguments import bounded_float, bounded_int, port_number, writable_folder
from v2g.demo.base_case import BrokenBaseCase
from v2g.demo.run import DemoOptions, run_demo
from v2g.simulation.command import summary_rows

#: Simulated seconds per wall-clock second when the dashboard watches (a 15-minute
#: step every 1.5 s: a day in under three minutes).
WATCHED_SPEED = 600.0


class DemoUsageError(Exception):
    """Options the demo cannot run with (exit 2)."""


def add_demo_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    demo = commands.add_parser(
        "demo", help="the aggregator on a simulated fleet and a built-in feeder, one day"
    )
    demo.add_argument(
        "--fleet", type=bounded_int(1, 5000), default=24, help="vehicles, 1..5000 (default 24)"
    )
    demo.add_argument("--feeder", default="cigre-lv", help=f"one of {', '.join(BUILT_INS)}")
    demo.add_argument(
        "--hours",
        type=bounded_float(0.25, 168),
        default=24.0,
        help="simulated hours, 0.25..168 (default 24)",
    )
    demo.add_argument(
        "--speed",
        type=bounded_float(0, 1e9),
        default=None,
        help="simulated seconds per second (default: as fast as possible; "
        f"{WATCHED_SPEED:g} with --serve)",
    )
    demo.add_argument("--serve", action="store_true", help="keep the dashboard up")
    demo.add_argument("--host", default="127.0.0.1", help="with --serve (default 127.0.0.1)")
    demo.add_argument("--port", type=port_number, default=8080, help="with --serve (default 8080)")
    demo.add_argument(
        "--out", type=Path, default=Path("v2g-demo"), help="report folder (default ./v2g-demo)"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")


def options_of(args: argparse.Namespace) -> DemoOptions:
    """The demo's options (ranges are checked by the option types; the report folder
    here, before the day runs)."""
    speed = args.speed if args.speed is not None else (WATCHED_SPEED if args.serve else 0.0)
    problem = writable_folder(args.out)
    if problem is not None:
        raise DemoUsageError(f"--out: {problem}")
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

    bars: list[tqdm[Any]] = []  # the progress bar, from the first step on

    def show(summary: dict[str, Any]) -> None:
        for bar in bars:
            bar.close()  # the summary goes below a finished bar
        print(json.dumps(summary) if args.json else summary_table(summary), flush=True)

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="step", desc="demo day", file=sys.stderr))
        bars[0].total = total
        bars[0].update(done - bars[0].n)

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
    except (NetworkError, BrokenBaseCase) as error:
        raise DemoUsageError(f"--feeder {args.feeder}: {error}") from error
    except OSError as error:
        if args.serve:
            raise DemoUsageError(f"cannot serve on {args.host}:{args.port}: {error}") from error
        raise
    finally:
        for bar in bars:
            bar.close()


def summary_table(summary: dict[str, Any]) -> str:
    """The demo's summary for a person (``v2g simulate``'s rows, then the demo's own)."""
    lines = [f"v2g demo on {summary['feeder']}, {summary['hours']:g} h simulated"]
    if summary["base_load_scale"] < 1:
        lines[0] += f", base load scaled by {summary['base_load_scale']:g} to fit the feeder"
    demo_keys = (
        "feeder",
        "hours",
        "base_load_scale",
        "steps",
        "plans_stored",
        "report",
        "store",
        "wall_s",
    )
    rows = summary_rows({k: v for k, v in summary.items() if k not in demo_keys})
    lines += [f"  {row}" for row in rows]
    lines.append(f"  {'plans stored':28} {summary['plans_stored']} of {summary['steps']} cycles")
    lines.append(f"  {'wall time':28} {summary['wall_s']:g} s")
    lines.append(f"  report (CSV, summary.json, overview.png, the store): {summary['report']}")
    return "\n".join(lines)
