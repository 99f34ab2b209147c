"""``realtime_priority`` in the charger file puts ``v2g secc``'s event loop under
SCHED_FIFO (issue 21: the SECC on a busy charger)."""

from __future__ import annotations

import os

import pytest

from tests.integration.processes import v2g_process
from tests.integration.test_renegotiation import CHARGER_TOML
from v2g.secc.loopback.netns import veth_link

pytestmark = pytest.mark.netns


@pytest.mark.skipif(os.geteuid() != 0, reason="SCHED_FIFO needs CAP_SYS_NICE")
def test_v2g_secc_runs_its_event_loop_under_sched_fifo(tmp_path):
    with veth_link(f"rt{os.getpid()}") as (charger, _vehicle):
        config = tmp_path / "charger.toml"
        config.write_text(
            "realtime_priority = 10\n" + CHARGER_TOML.format(interface=charger.interface),
            encoding="utf-8",
        )
        log = tmp_path / "secc.log"
        with v2g_process(charger, log, "secc", "--config", str(config)) as process:
            policy = os.sched_getscheduler(process.pid) & ~os.SCHED_RESET_ON_FORK
            assert policy == os.SCHED_FIFO
            assert os.sched_getparam(process.pid).sched_priority == 10
            assert "SECC event loop runs under SCHED_FIFO priority 10" in log.read_text()
