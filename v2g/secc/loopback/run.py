"""``v2g loopback``: set up the namespaces, run both sides, collect the report."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from v2g.secc.loopback.netns import NetnsEnd, veth_link
from v2g.secc.loopback.report import LoopbackReport, build_report
from v2g.secc.loopback.spec import LoopbackSpec

logger = logging.getLogger(__name__)

#: Time for the charger to start its JVM codec, warm it up and start listening.
CHARGER_READY_TIMEOUT_S = 60.0


class LoopbackFailed(RuntimeError):
    """The session could not be set up (a side crashed or never became ready)."""


def _side(
    stack: ExitStack,
    end: NetnsEnd,
    module: str,
    spec_path: Path,
    result_path: Path,
    log_path: Path,
) -> subprocess.Popen[str]:
    """Start one side inside its namespace; ``stack`` kills it and closes its files."""
    log = stack.enter_context(log_path.open("w", encoding="utf-8"))
    argv = end.command(
        sys.executable, "-m", module, str(spec_path), end.interface, str(result_path)
    )
    process = stack.enter_context(
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    )
    stack.callback(_kill, process)
    return process


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _wait_ready(charger: subprocess.Popen[str], log_path: Path) -> None:
    assert charger.stdout is not None
    deadline = time.monotonic() + CHARGER_READY_TIMEOUT_S
    for line in charger.stdout:
        if line.strip() == "READY":
            return
        if time.monotonic() > deadline:
            break
    raise LoopbackFailed(f"the SECC did not become ready; see {log_path}")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        return {}


def run_loopback(spec: LoopbackSpec, work_dir: Path | None = None) -> LoopbackReport:
    """One session between the product's SECC and the iso15118 EVCC (needs root).

    Logs of both sides are kept in ``work_dir`` (a temporary folder if not given).
    """
    work = work_dir or Path(tempfile.mkdtemp(prefix="v2g-loopback-"))
    work.mkdir(parents=True, exist_ok=True)
    spec_path = work / "spec.json"
    spec.write(spec_path)
    charger_result, vehicle_result = work / "charger.json", work / "vehicle.json"
    charger_log, vehicle_log = work / "charger.log", work / "vehicle.log"
    failure: str | None = None
    with veth_link() as (charger_end, vehicle_end), ExitStack() as stack:
        charger = _side(
            stack, charger_end, "v2g.secc.loopback.charger", spec_path, charger_result, charger_log
        )
        try:
            _wait_ready(charger, charger_log)
            vehicle = _side(
                stack,
                vehicle_end,
                "v2g.secc.loopback.vehicle",
                spec_path,
                vehicle_result,
                vehicle_log,
            )
            grace_s = spec.session_timeout_s + 30.0
            vehicle.wait(timeout=grace_s)
            charger.wait(timeout=grace_s)
        except (LoopbackFailed, subprocess.TimeoutExpired) as error:
            failure = str(error)
    report = build_report(spec, _read_json(charger_result), _read_json(vehicle_result), failure)
    if not report.completed:
        logger.error("session did not complete; logs: %s and %s", charger_log, vehicle_log)
    return report
