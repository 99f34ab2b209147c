"""``GET /metrics``: Prometheus text exposition (version 0.0.4), written by hand: a
dozen gauges do not justify a client library."""

from __future__ import annotations

import math
from collections.abc import Callable

from aiohttp import web

from v2g.api.problem import Handler, Middleware
from v2g.api.services import Services, services


def _line(name: str, kind: str, text: str, value: float, labels: str = "") -> list[str]:
    shown = "NaN" if not math.isfinite(value) else repr(float(value))
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name}{labels} {shown}"]


def exposition(found: Services) -> str:
    latest = found.aggregator.latest()
    now = found.aggregator.clock.now()
    events = found.aggregator.state.events.events.values()
    lines = _line(
        "v2g_dr_events_active",
        "gauge",
        "DR events active now",
        sum(e.active_at(now) for e in events),
    )
    if latest is not None:
        lines += _line("v2g_cycles_total", "counter", "Control cycles run", latest.cycle)
        lines += _line(
            "v2g_fleet_vehicles", "gauge", "Connected vehicles", len(latest.state.fleet)
        )
        lines += _line("v2g_plan_duration_ms", "gauge", "Last plan time in ms", latest.plan_ms)
        plan = latest.plan
        if plan is not None:
            lines += _line(
                "v2g_fleet_setpoint_w",
                "gauge",
                "Sum of setpoints in W (+ = charging)",
                plan.power_now_w,
            )
            verdict = plan.verdict
            if verdict is not None:
                lines += _line(
                    "v2g_grid_ok", "gauge", "1 if the plan passed the AC check", verdict.ok
                )
                lines += _line(
                    "v2g_grid_max_line_loading_percent",
                    "gauge",
                    "Highest line loading",
                    verdict.max_line_loading_percent,
                )
                lines += _line(
                    "v2g_grid_max_trafo_loading_percent",
                    "gauge",
                    "Highest transformer loading",
                    verdict.max_trafo_loading_percent,
                )
                lines += _line(
                    "v2g_grid_min_vm_pu", "gauge", "Lowest bus voltage", verdict.min_vm_pu
                )
                lines += _line(
                    "v2g_grid_max_vm_pu", "gauge", "Highest bus voltage", verdict.max_vm_pu
                )
    lines += [
        "# HELP v2g_http_responses_total HTTP responses by status",
        "# TYPE v2g_http_responses_total counter",
    ]
    for status, count in sorted(found.responses.items()):
        lines.append(f'v2g_http_responses_total{{status="{status}"}} {count}')
    return "\n".join(lines) + "\n"


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=exposition(services(request)),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def counting_middleware(found: Callable[[web.Request], Services]) -> Middleware:
    """Counts responses by status (after the problem middleware has shaped errors)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        found(request).responses[response.status] += 1
        return response

    return middleware
