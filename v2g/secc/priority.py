"""Running the SECC on a busy charger: real-time scheduling and log output off the loop.

DIN SPEC 70121 and ISO 15118-2 give the charger 25 ms to answer a CurrentDemandReq.
Issue 21 measured, with other jobs on both cores (load 3-7.6), a wire p99 of 46 ms and
28 of 404 charge-loop answers over 25 ms at normal priority; 3.1 ms under ``chrt -f
10``. ``tests/benchmarks/bench_secc_busy.py`` measures it again.
``realtime_priority`` in the charger configuration (off by default) asks the kernel for
SCHED_FIFO at that priority for the SECC's event loop; it needs CAP_SYS_NICE (root, or
``setcap cap_sys_nice+ep`` on the interpreter, or an RLIMIT_RTPRIO from
limits.conf / systemd's ``LimitRTPRIO=``). Equivalent from outside: ``chrt -f 10 v2g
secc ...``. It applies in ``v2g secc`` only (in ``v2g serve`` it would also raise the
aggregator and its planner thread). In ``v2g secc`` the SECC's log lines are written by
a thread of normal priority, so a slow log sink (a full pipe to journald) never stalls
an answer.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: SCHED_FIFO priorities Linux accepts.
MIN_PRIORITY, MAX_PRIORITY = 1, 99

SetScheduler = Callable[[int, int, os.sched_param], None]


def apply_realtime_priority(
    priority: int, set_scheduler: SetScheduler = os.sched_setscheduler
) -> bool:
    """Put the calling thread (the SECC's event loop) under SCHED_FIFO at ``priority``;
    threads it starts later inherit it, child processes do not (SCHED_RESET_ON_FORK).
    When the OS refuses, one WARNING line says why and what to do, and the SECC runs on
    at normal priority (a charger that cannot start is worse than a slow one). Returns
    whether it applied."""
    policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
    try:
        set_scheduler(0, policy, os.sched_param(priority))
    except PermissionError:
        logger.warning(
            "realtime_priority %d not permitted: SCHED_FIFO needs CAP_SYS_NICE (run as "
            "root, `setcap cap_sys_nice+ep` on the Python interpreter, or LimitRTPRIO= in "
            "the systemd unit); the SECC runs at normal priority",
            priority,
        )
        return False
    except OSError as error:
        logger.warning(
            "realtime_priority %d not applied (%s); the SECC runs at normal priority",
            priority,
            error.strerror or error,
        )
        return False
    logger.info("SECC event loop runs under SCHED_FIFO priority %d", priority)
    return True


def log_through_a_thread() -> Callable[[], None]:
    """Move the root logger's handlers behind a queue served by a thread started now
    (so it keeps the priority of its caller, normal, when called before
    ``apply_realtime_priority``). Records are still formatted where they are made;
    only the writing moves. Returns the function that stops the thread and puts the
    handlers back."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    queue_handler = logging.handlers.QueueHandler(records)
    for handler in handlers:
        root.removeHandler(handler)
    root.addHandler(queue_handler)
    listener.start()

    def stop() -> None:
        root.removeHandler(queue_handler)
        listener.stop()
        for handler in handlers:
            root.addHandler(handler)

    return stop
