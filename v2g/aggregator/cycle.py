"""The control cycle (docs/architecture.md): snapshot -> plan -> setpoints -> publish.

DR events and operator commands are folded as they arrive (``submit``), so the sender
hears at once whether they were accepted; session events are queued and folded in one
batch at the start of the next cycle (one fleet copy per batch, not per event: a 10,000
vehicle fleet reports power every few seconds). Reading ``state`` never folds: reads
have no side effects. Each cycle freezes the state, plans in a
worker thread with a timeout (the planner runs the grid check, which must never block
the event loop), posts the setpoints through the session link and publishes an
immutable Snapshot. A late or failed plan is discarded and the last safe plan stays:
its setpoints run out at their ``valid_until``, after which every SECC falls back to
a power that never discharges (fail closed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from v2g.aggregator.link import SessionLink
from v2g.aggregator.snapshot import Snapshot
from v2g.aggregator.state import AggregatorState, Input, fold, wants_early_cycle
from v2g.clock import Clock
from v2g.demand_response import Outcome
from v2g.dispatch import DispatchPlan, GridModel, PlanInputs, PlannerSettings, plan_dispatch
from v2g.dispatch.baselines import Planner
from v2g.fleet import Site
from v2g.session import SessionEvent, SessionStarted

Answer = TypeVar("Answer")
logger = logging.getLogger(__name__)

SnapshotSink = Callable[[Snapshot], None]


class Aggregator:
    """One site's aggregator: its state, its control cycle and what it publishes."""

    def __init__(
        self,
        site: Site,
        grid: GridModel,
        link: SessionLink,
        clock: Clock,
        settings: PlannerSettings | None = None,
        state: AggregatorState | None = None,
        plan_timeout_s: float = 5.0,
        planner: Planner = plan_dispatch,
    ) -> None:
        self.site = site
        self.grid = grid
        self.link = link
        self.clock = clock
        self.settings = settings or PlannerSettings()
        self.plan_timeout_s = plan_timeout_s
        # How far ahead arrivals are foreseen: the planner's own horizon.
        self._foresight = timedelta(seconds=self.settings.slots * self.settings.slot_s)
        # The planner is a seam for comparisons (baseline rules in simulations).
        self.planner = planner
        self._state = state or AggregatorState()
        self._pending: list[SessionEvent] = []
        self._fold_errors: list[str] = []
        self._cycle = 0
        self._latest: Snapshot | None = None
        self._sinks: list[SnapshotSink] = []
        self._wake = asyncio.Event()
        # One worker: one plan at a time; a plan still running blocks the next cycle.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner")
        self._running: Future[DispatchPlan] | None = None

    @property
    def state(self) -> AggregatorState:
        """The state as last folded (an immutable value): DR events and commands as
        accepted so far; session events queued since the last cycle are not in it yet.
        Reading it changes nothing."""
        return self._state

    def _fold_queued(self) -> AggregatorState:
        """Fold the queued session events into the state (the cycle's input step)."""
        if self._pending:
            fleet, errors = self._state.fleet.apply_all(
                self._pending, self.site, self._state.events.share_asked
            )
            self._pending = []
            self._state = replace(self._state, fleet=fleet)
            for error in errors:
                logger.warning("session event rejected: %s", error)
            self._fold_errors += [str(e) for e in errors]
        return self._state

    def latest(self) -> Snapshot | None:
        """The last published snapshot (None before the first cycle)."""
        return self._latest

    def subscribe(self, sink: SnapshotSink) -> None:
        self._sinks.append(sink)

    def submit(self, item: Input) -> Outcome:
        """Take ``item`` in: DR events and commands are folded now, session events
        queued (a plug-in at an unknown EVSE is refused at once). Plug-ins and DR
        changes wake the cycle."""
        if isinstance(item, SessionEvent):
            if isinstance(item, SessionStarted) and item.evse_id not in self.site.chargers:
                outcome = Outcome(
                    False, f"session {item.session_id} started at unknown EVSE {item.evse_id}"
                )
            else:
                self._pending.append(item)
                outcome = Outcome(True, f"{type(item).__name__} queued")
        else:
            self._state, outcome = fold(self._state, item, self.site)
        if not outcome.accepted:
            logger.warning("input rejected: %s", outcome.reason)
        elif wants_early_cycle(item):
            self._wake.set()
        return outcome

    async def on_planner_thread(self, work: Callable[[], Answer]) -> Answer:
        """``work``'s answer, computed on the planner's thread between plans: the grid
        model keeps state (its operating point, its memo) and the planner owns it."""
        return await asyncio.wrap_future(self._worker.submit(work))

    def wake(self) -> None:
        """Ask ``run`` for a cycle now (a DR event starting or ending)."""
        self._wake.set()

    async def cycle(self) -> Snapshot:
        """Run one control cycle and publish its snapshot."""
        self._cycle += 1
        now = self.clock.now()
        state = self._fold_queued()
        health = [f"session event rejected: {error}" for error in self._fold_errors]
        self._fold_errors = []
        plan = self._latest.plan if self._latest else None
        elapsed_ms = 0.0
        if self._running is not None and not self._running.done():
            health.append("previous plan still running: kept the last safe plan")
        else:
            inputs = PlanInputs(
                now,
                state.fleet,
                state.events,
                state.prices,
                state.base_load,
                state.operator_cap_w,
                state.expected_at(self.site, now, now + self._foresight),
            )
            started = time.perf_counter()
            self._running = self._worker.submit(self.planner, inputs, self.grid, self.settings)
            try:
                fresh = await asyncio.wait_for(
                    asyncio.wrap_future(self._running), timeout=self.plan_timeout_s
                )
            except TimeoutError:
                health.append(f"plan late (> {self.plan_timeout_s:g} s): kept the last safe plan")
            except Exception as error:  # a planner bug must not stop the cycle
                logger.exception("planning failed")
                health.append(f"planning failed ({error}): kept the last safe plan")
            else:
                plan = fresh
                # The planner never changes the grid model; what its AC check found
                # the linear rows too optimistic about is learnt here, between plans.
                self.grid.calibrate(fresh.disagreements)
                self._post(fresh, state)
            elapsed_ms = (time.perf_counter() - started) * 1000
        snapshot = Snapshot(now, self._cycle, state, plan, elapsed_ms, tuple(health))
        self._publish(snapshot)
        return snapshot

    def _post(self, plan: DispatchPlan, state: AggregatorState) -> None:
        """Send each setpoint to its EVSE bound to the session it was planned for: the
        SECC applies it to that session only, never to the next vehicle."""
        for evse_id, setpoint in plan.setpoints.items():
            member = state.fleet.members.get(evse_id)
            if member is not None:
                self.link.post(evse_id, setpoint.for_session(member.session_id))

    def _publish(self, snapshot: Snapshot) -> None:
        self._latest = snapshot
        for sink in self._sinks:
            try:
                sink(snapshot)
            except Exception:
                logger.exception("snapshot subscriber failed")

    def next_wait_s(self, interval_s: float) -> float:
        """Seconds until the next cycle: the interval, or sooner when a DR event starts
        or ends before then (its first and last slots are planned on time), or when
        the last plan's slot 0 ends (its power was planned up to the clock's slot
        boundary, as markets settle)."""
        now = self.clock.now()
        moments = [m for e in self._state.events.events.values() for m in (e.start, e.end)]
        plan = self._latest.plan if self._latest else None
        if plan is not None and plan.horizon.slots > 1:
            moments.append(plan.horizon.slot_start(1))
        boundaries = [moment for moment in moments if moment > now]
        if not boundaries:
            return interval_s
        return min(interval_s, (min(boundaries) - now).total_seconds())

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Cycle every ``interval_s`` seconds, at once on a plug-in or DR change, and
        when a DR event starts or ends, until ``stop`` is set."""
        while not stop.is_set():
            self._wake.clear()
            await self.cycle()
            await woken(self._wake, stop, self.next_wait_s(interval_s))

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)


async def woken(wake: asyncio.Event, stop: asyncio.Event, timeout_s: float) -> None:
    """Returns when ``wake`` or ``stop`` is set, or after ``timeout_s``: a periodic
    loop's pause that a caller can cut short."""
    waits = [asyncio.create_task(wake.wait()), asyncio.create_task(stop.wait())]
    await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    for task in waits:
        task.cancel()


async def sweeping(
    step: Callable[[], Awaitable[None]],
    what: str,
    interval_s: float,
    stop: asyncio.Event,
    wake: asyncio.Event,
) -> None:
    """Runs ``step`` every ``interval_s`` and at once when ``wake`` is set, until
    ``stop`` is set. A failing step is logged (``what`` failed) and the next goes on:
    a store or a peer misbehaving must not end the loop."""
    while not stop.is_set():
        wake.clear()
        try:
            await step()
        except Exception:
            logger.exception("%s failed", what)
        await woken(wake, stop, interval_s)
