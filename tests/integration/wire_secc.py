"""A ``v2g secc`` with one DC EVSE (DIN, -2, -20) in a fresh namespace pair, and the
wire vehicle run against it: shared by the wire-level tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.integration.processes import v2g_process
from tests.integration.wire_vehicle import Script
from v2g.secc.loopback.netns import NetnsEnd, veth_link

EVSE_ID = "DE*V2G*E0042"
CHARGER_TOML = (
    f'[[evse]]\nevse_id = "{EVSE_ID}"\ninterface = "{{interface}}"\ncurrent = "dc"\n'
    "max_charge_power_w = 11000\nmax_discharge_power_w = 7000\nmax_current_a = 100\n"
    "fallback_power_w = 4600\n"
)


@contextmanager
def wire_secc(
    tmp_path: Path, tag: str, top_level_toml: str = "", prefix: tuple[str, ...] = ()
) -> Iterator[tuple[NetnsEnd, Path]]:
    """The vehicle's end of the link and the SECC's log file, while ``v2g secc`` runs;
    ``top_level_toml``: more top-level keys of the charger file (``pki_dir``,
    ``sequence_timeout_s``); ``prefix``: a command that runs the SECC (``chrt -f 10``)."""
    with veth_link(f"{tag}{os.getpid()}") as (charger, vehicle):
        config = tmp_path / "charger.toml"
        config.write_text(
            top_level_toml + CHARGER_TOML.format(interface=charger.interface), encoding="utf-8"
        )
        log = tmp_path / "secc.log"
        with v2g_process(charger, log, "secc", "--config", str(config), prefix=prefix):
            yield vehicle, log


@contextmanager
def timeout_secc(
    tmp_path: Path, tag: str, sequence_timeout_s: float
) -> Iterator[tuple[NetnsEnd, Path, Path]]:
    """``wire_secc`` waiting ``sequence_timeout_s`` for each request (not the standards'
    60 s, so that a stall test runs in seconds); also yields ``tmp_path``."""
    top = f"sequence_timeout_s = {sequence_timeout_s}\n"
    with wire_secc(tmp_path, tag, top) as (vehicle, log):
        yield vehicle, log, tmp_path


def run_scripted(
    vehicle: NetnsEnd,
    path: Path,
    module: str,
    script: object,
    prefix: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``python -m module path`` in the vehicle's namespace, ``path`` holding the
    dataclass ``script`` as JSON; the JSON it prints last. ``prefix``: a command that
    runs the vehicle (``chrt -f 10``)."""
    path.write_text(json.dumps(asdict(script)), encoding="utf-8")  # type: ignore[call-overload]
    done = subprocess.run(
        vehicle.command(*prefix, sys.executable, "-m", module, str(path)),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise AssertionError(f"{module} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def run_vehicle(
    vehicle: NetnsEnd, tmp_path: Path, prefix: tuple[str, ...] = (), **script: object
) -> dict[str, Any]:
    """One scripted EV session; its ``Outcome`` as a dict. ``prefix``: a command that
    runs the vehicle (``chrt -f 10``)."""
    return run_scripted(
        vehicle,
        tmp_path / "script.json",
        "tests.integration.wire_vehicle",
        Script(interface=vehicle.interface, **script),  # type: ignore[arg-type]
        prefix,
    )


def run_stalled(
    secc: tuple[NetnsEnd, Path, Path], session: str, at: int, after_bytes: int, wait_close_s: float
) -> tuple[dict[str, Any], list[str]]:
    """An EV that falls silent in its ``at``-th request after ``after_bytes`` bytes of it
    (0: before any) against ``timeout_secc``: its outcome and the SECC's log lines since."""
    vehicle, log, tmp_path = secc
    since = len(log.read_text(encoding="utf-8"))
    outcome = run_vehicle(
        vehicle,
        tmp_path,
        session=session,
        stall_at=at,
        stall_after_bytes=after_bytes,
        wait_close_s=wait_close_s,
    )
    return outcome, log.read_text(encoding="utf-8")[since:].splitlines()
