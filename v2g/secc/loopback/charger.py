"""The charger side of a loopback session: the product's SECC serving one session.

Run inside the charger's namespace by ``v2g loopback``:
``python -m v2g.secc.loopback.charger SPEC.json INTERFACE RESULT.json``.
Prints ``READY`` on stdout once SDP and TCP servers listen, then serves one session
and writes what happened (every exchange with its response time, every session
event) to RESULT.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from v2g.clock import SystemClock
from v2g.hardware.seams import PilotState
from v2g.hardware.simulated import SimulatedPilot, SimulatedPowerModule
from v2g.secc.codec import CapturingCodec, Exchange, RecordingCodec, make_codec, warm_up
from v2g.secc.config import SeccConfig
from v2g.secc.controller import EvseController
from v2g.secc.event_bus import SessionEventBus
from v2g.secc.loopback import CHARGE_LOOP_REQUESTS, PRECHARGE_REQUESTS
from v2g.secc.loopback.spec import LoopbackSpec, run_side
from v2g.secc.station import Station
from v2g.session import SessionEnded, SessionEvent, SessionStarted, Setpoint

logger = logging.getLogger("v2g.loopback.charger")


def _event_record(event: SessionEvent) -> dict[str, Any]:
    record = {"type": type(event).__name__}
    record.update(
        {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in asdict(event).items()
            if k not in ("needs", "ev_limits")
        }
    )
    return record


def inject_fault(controller: EvseController, fault: str | None) -> bool:
    """The charger's faults (the EV's own silence is injected on its side): whether
    ``fault`` was one of them."""
    module = controller.stage.module
    if fault == "unplug":
        assert isinstance(controller.pilot, SimulatedPilot)
        controller.pilot.set_state(PilotState.A)
    elif fault == "module-fault":
        assert isinstance(module, SimulatedPowerModule)
        module.inject_fault("power module fault: over-temperature (injected)")
    elif fault == "isolation-fault":
        assert isinstance(module, SimulatedPowerModule)
        module.isolation_ok = False
    else:
        return False
    return True


class FaultInjector:
    """Injects ``spec.fault`` after ``spec.fault_after_loops`` charge-loop answers and
    records when, and how the session ended."""

    def __init__(self, spec: LoopbackSpec, controller: Callable[[], EvseController]) -> None:
        self._spec = spec
        self._controller = controller
        self.fault_s: float | None = None

    def charge_loop_answered(self, loops: int) -> None:
        if loops == self._spec.fault_after_loops:
            self._inject()

    def precharge_answered(self) -> None:
        """After 0 charge-loop requests: in PreCharge, at its first answer."""
        if self._spec.fault_after_loops == 0:
            self._inject()

    def _inject(self) -> None:
        if self.fault_s is None and inject_fault(self._controller(), self._spec.fault):
            self.fault_s = time.monotonic()
            logger.info("fault injected: %s", self._spec.fault)

    def record(self) -> dict[str, Any]:
        ending = self._controller().last_ending
        return {
            "fault_s": self.fault_s,
            "ended_by": ending.ended_by if ending else None,
            "at_rest_s": ending.at_rest_s if ending else None,
        }


async def _cancel_the_rest(limit_s: float = 2.0) -> None:
    """Cancel every other task until none is left: Python 3.11's ``wait_for`` can
    swallow a cancellation that races its timeout, and the package's SDP task loops
    on one (``UDPServer.rcv_task``), which hung ``asyncio.run``'s shutdown."""
    loop = asyncio.get_running_loop()
    deadline_s = loop.time() + limit_s
    while loop.time() < deadline_s:
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if not others:
            return
        for task in others:
            task.cancel()
        await asyncio.sleep(0.05)


async def serve_one_session(spec: LoopbackSpec, interface: str) -> dict[str, Any]:
    clock = SystemClock()
    inner = make_codec(spec.codec)
    warm_up_s = warm_up(inner)
    capture = os.environ.get("V2G_EXI_CAPTURE")
    if capture:  # corpus for the EXI codec's tests (scripts/capture_exi_corpus.py)
        inner = CapturingCodec(inner, capture)
    exchanges: list[Exchange] = []
    events: list[SessionEvent] = []
    session_over = asyncio.Event()
    evse = spec.evse(interface)
    station_ref: list[Station] = []
    live_session: list[str] = []
    injector = FaultInjector(spec, lambda: station_ref[0].evses[evse.evse_id].controller)

    def on_exchange(exchange: Exchange) -> None:
        exchanges.append(exchange)
        logger.info(
            "EV %s -> SECC %s in %.1f ms",
            exchange.request,
            exchange.response,
            exchange.response_ms,
        )
        loops = sum(1 for e in exchanges if e.request in CHARGE_LOOP_REQUESTS)
        if exchange.request in PRECHARGE_REQUESTS:
            injector.precharge_answered()
        if exchange.request in CHARGE_LOOP_REQUESTS:
            injector.charge_loop_answered(loops)
            for change in spec.changes:
                if change.after_loops == loops:
                    post(change.power_w, f"loopback change after {loops} loops")
                    logger.info("mailbox: setpoint now %.0f W", change.power_w)

    def post(power_w: float, source: str) -> None:
        """A setpoint for the live session (the mailbox hands it to no other)."""
        if live_session:
            station_ref[0].mailbox(evse.evse_id).post(
                Setpoint.from_source(
                    power_w,
                    clock.now() + timedelta(seconds=spec.setpoint_valid_s),
                    source,
                    live_session[-1],
                )
            )

    def on_event(event: SessionEvent) -> None:
        events.append(event)
        if isinstance(event, SessionStarted):
            # Posted when the session is known, as the aggregator would: before the
            # -20 ScheduleExchange and the first charge-loop answer.
            live_session.append(event.session_id)
            if spec.setpoint_w is not None:
                post(spec.setpoint_w, "loopback --setpoint-w")
        if isinstance(event, SessionEnded):
            session_over.set()

    bus = SessionEventBus()
    bus.subscribe(on_event)
    codec = RecordingCodec(inner, on_exchange)
    pki_dir = Path(spec.pki_dir) if spec.pki_dir else None
    config = SeccConfig(evses=(evse,), codec=spec.codec_name, pki_dir=pki_dir)
    station = Station(config, codec, clock, bus)
    station_ref.append(station)
    await _serve(station, spec, pki_dir, clock, session_over)
    return injector.record() | {
        "warm_up_s": warm_up_s,
        "exchanges": [
            {
                "request": e.request,
                "response": e.response,
                "response_ms": e.response_ms,
                "started_s": e.started_s,
                "response_body": e.response_body,
            }
            for e in exchanges
        ],
        "events": [_event_record(e) for e in events],
    }


async def _serve(
    station: Station,
    spec: LoopbackSpec,
    pki_dir: Path | None,
    clock: SystemClock,
    session_over: asyncio.Event,
) -> None:
    """Serve until the session ends (or the spec's timeout passes)."""
    async with contextlib.AsyncExitStack() as stack:
        if spec.ocpp_installation and pki_dir is not None:
            from v2g.ocpp.bench import forwarding_installations

            await stack.enter_async_context(forwarding_installations(station, pki_dir, clock))
        serving = asyncio.create_task(station.run())
        await station.wait_ready(timeout_s=15.0)
        print("READY", flush=True)
        try:
            await asyncio.wait_for(session_over.wait(), timeout=spec.session_timeout_s)
        except TimeoutError:
            logger.error("no session ended within %.0f s", spec.session_timeout_s)
        serving.cancel()
        await _cancel_the_rest()


if __name__ == "__main__":
    sys.exit(run_side("charger", serve_one_session))
