"""The ``v2g loopback`` report, built from what both sides recorded."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from v2g.secc.loopback import CHARGE_LOOP_REQUESTS
from v2g.secc.loopback.spec import LoopbackSpec
from v2g.secc.translation import AcGrid, target_power_w

_CHARGE_LOOP_RESPONSES = frozenset(name.replace("Req", "Res") for name in CHARGE_LOOP_REQUESTS)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of few samples is their maximum, not a guess)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def latency_summary(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "p50": round(statistics.median(values_ms), 3),
        "p99": round(percentile(values_ms, 0.99), 3),
        "max": round(max(values_ms), 3),
    }


@dataclass(frozen=True, slots=True)
class LoopbackReport:
    protocol: str
    control: str
    codec: str
    completed: bool
    requests: int
    charge_loop_requests: int
    ev_target_power_w: list[float]
    secc_response_ms: dict[str, float]
    session_s: float
    sequence: list[str] = field(default_factory=list)
    #: Every request with the SECC's answer and its response time, in order.
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    ev_timeout_scale: float = 1.0
    events: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    #: ``--fault``: the fault injected, what ended the session (``ended_by_of``) and
    #: the seconds from the fault to the output at rest (<= 1 A, contactors open).
    fault: str | None = None
    ended_by: str | None = None
    ended_after_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "control": self.control,
            "codec": self.codec,
            "completed": self.completed,
            "requests": self.requests,
            "charge_loop_requests": self.charge_loop_requests,
            "ev_target_power_w": self.ev_target_power_w,
            "secc_response_ms": self.secc_response_ms,
            "session_s": self.session_s,
            "ev_timeout_scale": self.ev_timeout_scale,
            "sequence": self.sequence,
            "exchanges": self.exchanges,
            "events": self.events,
            "failure": self.failure,
            "fault": self.fault,
            "ended_by": self.ended_by,
            "ended_after_s": self.ended_after_s,
        }


def build_report(
    spec: LoopbackSpec,
    charger: dict[str, Any],
    vehicle: dict[str, Any],
    failure: str | None = None,
) -> LoopbackReport:
    """The report from both sides' records (``charger.json`` and ``vehicle.json``)."""
    evse = spec.evse("loopback")
    single_phase = spec.energy_transfer_mode == "AC_single_phase_core"
    ac_grid = AcGrid(evse.nominal_voltage_v, 1 if single_phase else evse.phases)
    exchanges = charger.get("exchanges", [])
    session_s = 0.0
    if exchanges:
        last = exchanges[-1]
        session_s = last["started_s"] + last["response_ms"] / 1000.0 - exchanges[0]["started_s"]
    received = vehicle.get("received", [])
    secc_saw_stop = any(
        e["request"] == "SessionStopReq" and e["response"] == "SessionStopRes" for e in exchanges
    )
    targets = [
        target_power_w(m["body"], ac_grid) for m in received if m["name"] in _CHARGE_LOOP_RESPONSES
    ]
    return LoopbackReport(
        protocol=spec.protocol,
        control=spec.control,
        codec=spec.codec,
        completed=bool(vehicle.get("completed")) and secc_saw_stop,
        requests=len(exchanges),
        charge_loop_requests=sum(1 for e in exchanges if e["request"] in CHARGE_LOOP_REQUESTS),
        ev_target_power_w=[round(t, 3) for t in targets if t is not None],
        secc_response_ms=latency_summary([e["response_ms"] for e in exchanges]),
        session_s=round(session_s, 3),
        sequence=[e["request"] for e in exchanges],
        exchanges=[
            {
                "request": e["request"],
                "response": e["response"],
                "response_ms": round(e["response_ms"], 3),
            }
            for e in exchanges
        ],
        ev_timeout_scale=spec.ev_timeout_scale,
        events=charger.get("events", []),
        failure=failure,
        fault=spec.fault,
        ended_by=charger.get("ended_by"),
        ended_after_s=_ended_after_s(charger, vehicle),
    )


def _ended_after_s(charger: dict[str, Any], vehicle: dict[str, Any]) -> float | None:
    """From the fault (the charger's injection, or the moment the EV fell silent; both
    on the machine's one monotonic clock) to the output at rest."""
    fault_s = charger.get("fault_s") or vehicle.get("silent_s")
    at_rest_s = charger.get("at_rest_s")
    if fault_s is None or at_rest_s is None:
        return None
    return round(at_rest_s - fault_s, 3)
