"""Running the product and the iso15118 EV as processes inside the test's namespaces."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from v2g.secc.loopback.netns import NetnsEnd


def wait_for_line(path: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(encoding="utf-8"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not logged within {timeout_s} s:\n{path.read_text()[-3000:]}")


@contextmanager
def v2g_process(
    end: NetnsEnd, log_path: Path, *argv: str, prefix: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """``v2g argv...`` in ``end``'s namespace, logging to ``log_path``; stopped on exit
    once its EVSEs were ready. ``prefix``: a command that runs it (``chrt -f 10``)."""
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            end.command(*prefix, sys.executable, "-m", "v2g", *argv),
            stdout=subprocess.DEVNULL,
            stderr=log,
        ) as process,
    ):
        try:
            wait_for_line(log_path, "status: ready", 90)
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def drive_ev(vehicle: NetnsEnd, spec_path: Path, result_path: Path) -> None:
    """One session of the iso15118 EVCC as described by the LoopbackSpec file."""
    subprocess.run(
        vehicle.command(
            sys.executable,
            "-m",
            "v2g.secc.loopback.vehicle",
            str(spec_path),
            vehicle.interface,
            str(result_path),
        ),
        check=True,
        timeout=120,
        capture_output=True,
    )
