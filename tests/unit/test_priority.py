"""realtime_priority: SCHED_FIFO for the SECC's event loop when the OS permits, one
clear line when it does not; the log written by a thread of its own (issue 21)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

import pytest

from v2g.config import ConfigError
from v2g.secc.config import parse_secc_config
from v2g.secc.priority import apply_realtime_priority, log_through_a_thread

EVSE = {"evse_id": "E1", "interface": "eth1", "current": "dc", "max_charge_power_w": 50000}

CHILD = (
    "import logging, os, sys\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "from v2g.secc.priority import apply_realtime_priority\n"
    "applied = apply_realtime_priority(7)\n"
    "policy = os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK\n"
    "print(applied, policy == os.SCHED_FIFO, os.sched_getparam(0).sched_priority)\n"
)


def run_child(*prefix: str) -> subprocess.CompletedProcess[str]:
    """The priority applied in a child process (never to the test runner itself)."""
    return subprocess.run(
        [*prefix, sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        check=True,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs CAP_SYS_NICE")
def test_the_event_loop_runs_under_sched_fifo_when_permitted():
    done = run_child()
    assert done.stdout.split() == ["True", "True", "7"]
    assert "SCHED_FIFO priority 7" in done.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv"
)
def test_without_cap_sys_nice_one_line_says_what_to_do_and_the_secc_runs_on():
    done = run_child("setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice")
    assert done.stdout.split() == ["False", "False", "0"]
    warnings = [line for line in done.stderr.splitlines() if "realtime_priority" in line]
    assert len(warnings) == 1 and "CAP_SYS_NICE" in warnings[0], done.stderr


def test_a_refusal_is_a_warning_not_a_crash(caplog):
    def refuse(pid: int, policy: int, param: os.sched_param) -> None:
        raise PermissionError(1, "Operation not permitted")

    with caplog.at_level(logging.WARNING, logger="v2g.secc.priority"):
        assert apply_realtime_priority(10, set_scheduler=refuse) is False
    assert "not permitted" in caplog.text and "LimitRTPRIO" in caplog.text


def test_realtime_priority_is_off_by_default_and_checked():
    assert parse_secc_config({"evse": [EVSE]}).realtime_priority is None
    assert parse_secc_config({"evse": [EVSE], "realtime_priority": 10}).realtime_priority == 10
    for bad in (0, 100, 2.5, True, "10"):
        data = {"evse": [EVSE], "realtime_priority": bad}
        with pytest.raises(ConfigError, match="realtime_priority must be a whole number"):
            parse_secc_config(data)
        assert data["realtime_priority"] == bad


def test_log_lines_are_written_by_the_thread_and_the_handlers_come_back():
    root = logging.getLogger()
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    collect = Collect()
    root.addHandler(collect)
    try:
        stop = log_through_a_thread()
        assert collect not in root.handlers
        logging.getLogger("v2g.test").warning("through the queue")
        stop()
        assert "through the queue" in seen
        assert collect in root.handlers
    finally:
        root.removeHandler(collect)
