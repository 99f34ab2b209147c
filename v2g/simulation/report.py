"""What ``v2g simulate`` writes: setpoints.csv, grid.csv, summary.json and plots."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np

from gridmodel import GridLimits
from v2g.simulation.run import Departure, SimulationLog
from v2g.simulation.scenario import Scenario


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "max": round(float(array.max()), 2),
    }


def summary(scenario: Scenario, log: SimulationLog) -> dict[str, Any]:
    """The summary keys of docs/scenario.md. Only vehicles that left within
    the scenario count for departures."""
    departed = log.departures
    requested = sum(max(0.0, d.target_wh - d.arrival_wh) for d in departed)
    delivered = sum(max(0.0, min(d.final_wh, d.target_wh) - d.arrival_wh) for d in departed)
    met = sum(1 for d in departed if d.met)
    verdicts = [row.verdict for row in log.grid]

    def extreme(name: str, pick: Any) -> float:
        values = [getattr(v, name) for v in verdicts if math.isfinite(getattr(v, name))]
        return round(float(pick(values)), 4) if values else 0.0

    return {
        "vehicles": len(scenario.vehicles),
        "departed": len(departed),
        "energy_requested_wh": round(requested, 1),
        "energy_delivered_wh": round(delivered, 1),
        "departures_met_percent": round(100.0 * met / len(departed), 2) if departed else 100.0,
        "dr_requested_wh": round(log.dr_requested_wh, 1),
        "dr_delivered_wh": round(log.dr_delivered_wh, 1),
        "dr_delivery_percent": round(100.0 * log.dr_delivered_wh / log.dr_requested_wh, 2)
        if log.dr_requested_wh > 0
        else 100.0,
        "dr_beyond_ask_wh": round(log.dr_beyond_ask_wh, 1),
        "exported_wh": round(log.exported_wh, 1),
        "grid_violations": sum(len(v.violations) + (0 if v.converged else 1) for v in verdicts),
        "max_line_loading_percent": extreme("max_line_loading_percent", max),
        "max_trafo_loading_percent": extreme("max_trafo_loading_percent", max),
        "min_vm_pu": extreme("min_vm_pu", min),
        "max_vm_pu": extreme("max_vm_pu", max),
        "energy_cost": round(log.energy_cost, 4),
        "currency": scenario.currency,
        "plan_ms": _percentiles(log.plan_ms),
        "strategies": dict(log.strategies),
        "failed_cycles": len(log.failed_cycles),
        "failures": log.failed_cycles[:20],
        "short_departures": [_short(d, log) for d in departed if not d.met],
    }


def _short(departure: Departure, log: SimulationLog) -> dict[str, Any]:
    """A vehicle that left short: by how much, and the reason its last plans gave."""
    wanted = min(departure.target_wh, departure.reachable_wh)
    return {
        "vehicle_id": departure.vehicle_id,
        "short_wh": round(wanted - departure.final_wh, 1),
        "final_wh": round(departure.final_wh, 1),
        "target_wh": round(departure.target_wh, 1),
        "reason": log.last_note.get(departure.vehicle_id, "no plan note named it"),
    }


def write_report(
    out: Path, scenario: Scenario, log: SimulationLog, limits: GridLimits | None = None
) -> dict[str, Any]:
    """Write every output file into ``out``; returns the summary. ``limits``: the
    network's limits, drawn on the plot (the scenario's, else GridLimits' defaults)."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "setpoints.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "vehicle_id", "power_w", "binding_limit"])
        for row in log.setpoints:
            writer.writerow(
                [row.time.isoformat(), row.vehicle_id, round(row.power_w, 1), row.binding_limit]
            )
    with (out / "grid.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "time",
                "max_line_loading_percent",
                "max_trafo_loading_percent",
                "min_vm_pu",
                "max_vm_pu",
                "violations",
            ]
        )
        for grid_row in log.grid:
            v = grid_row.verdict
            names = ";".join(f"{x.element} {x.metric}" for x in v.violations)
            writer.writerow(
                [
                    grid_row.time.isoformat(),
                    round(v.max_line_loading_percent, 3),
                    round(v.max_trafo_loading_percent, 3),
                    round(v.min_vm_pu, 5),
                    round(v.max_vm_pu, 5),
                    names,
                ]
            )
    result = summary(scenario, log)
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(out, scenario, log, limits or scenario.limits or GridLimits())
    return result


def plot(out: Path, scenario: Scenario, log: SimulationLog, limits: GridLimits) -> None:
    """overview.png (overview_figure) in ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    figure = overview_figure(scenario, log, limits)
    figure.savefig(out / "overview.png", dpi=90)
    plt.close(figure)


def overview_figure(scenario: Scenario, log: SimulationLog, limits: GridLimits) -> Any:
    """The run at a glance (a matplotlib Figure): fleet power against the DR events
    with the price, feeder loading and voltage against ``limits``, and state of
    charge; a title, a legend entry for every line, times in UTC."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(4, 1, figsize=(13, 12), sharex=True)
    figure.suptitle(
        f"v2g on {scenario.network}: {len(scenario.vehicles)} vehicles, "
        f"{scenario.start:%Y-%m-%d %H:%M} to {scenario.end:%Y-%m-%d %H:%M} UTC"
    )
    _plot_power(axes[0], scenario, log)
    _plot_loading(axes[1], log, limits)
    _plot_voltage(axes[2], log, limits)
    _plot_soc(axes[3], log)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=UTC))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel("time (UTC)")
    for axis in axes:
        axis.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure


#: Legends beside the panels (right of the price axis), never over a curve.
_OUTSIDE: dict[str, Any] = {
    "loc": "upper left",
    "bbox_to_anchor": (1.07, 1.0),
    "fontsize": "small",
}


def _plot_power(axis: Any, scenario: Scenario, log: SimulationLog) -> None:
    """Fleet power (kW, + = charging), each DR event's level, and the price."""
    times = [t for t, _ in log.fleet_power_w]
    axis.set_title("Fleet power against DR events, and the energy price")
    axis.step(
        times,
        [p / 1000 for _, p in log.fleet_power_w],
        where="post",
        color="tab:blue",
        label="fleet power (+ charges)",
    )
    axis.axhline(0, color="grey", linewidth=0.8)
    for event in scenario.dr_events:
        level = -event.value_w / 1000 if event.kind == "export_w" else event.value_w / 1000
        axis.hlines(
            level,
            event.start,
            event.end,
            colors="tab:red",
            linestyles="--",
            label=f"DR {event.id}: {event.kind} {event.value_w / 1000:g} kW",
        )
        axis.axvspan(event.start, event.end, color="tab:red", alpha=0.08)
    axis.set_ylabel("kW (+ = charging)")
    handles, labels = axis.get_legend_handles_labels()
    if times and scenario.prices.points:
        price = axis.twinx()
        price.step(
            times,
            [scenario.prices.at(t) for t in times],
            where="post",
            color="tab:green",
            alpha=0.7,
            label=f"price ({scenario.currency}/kWh)",
        )
        price.set_ylabel(f"{scenario.currency}/kWh")
        values = [value for _, value in scenario.prices.points]
        price.set_ylim(min(0.0, *values) * 1.15, max(0.0, *values) * 1.15 or 1.0)
        more, more_labels = price.get_legend_handles_labels()
        handles, labels = handles + more, labels + more_labels
    axis.legend(handles, labels, **_OUTSIDE)


def _plot_loading(axis: Any, log: SimulationLog, limits: GridLimits) -> None:
    times = [r.time for r in log.grid]
    axis.set_title("Feeder loading (AC check of the power that flowed)")
    axis.plot(times, [r.verdict.max_line_loading_percent for r in log.grid], label="max line")
    axis.plot(
        times, [r.verdict.max_trafo_loading_percent for r in log.grid], label="max transformer"
    )
    axis.axhline(
        limits.max_line_loading_percent,
        color="tab:red",
        linestyle="--",
        label=f"line limit {limits.max_line_loading_percent:g} %",
    )
    if limits.max_trafo_loading_percent != limits.max_line_loading_percent:
        axis.axhline(
            limits.max_trafo_loading_percent,
            color="tab:purple",
            linestyle="--",
            label=f"transformer limit {limits.max_trafo_loading_percent:g} %",
        )
    axis.set_ylabel("loading %")
    axis.set_ylim(bottom=0)
    axis.legend(**_OUTSIDE)


def _plot_voltage(axis: Any, log: SimulationLog, limits: GridLimits) -> None:
    times = [r.time for r in log.grid]
    axis.set_title("Feeder voltage band")
    axis.plot(times, [r.verdict.min_vm_pu for r in log.grid], label="lowest bus voltage")
    axis.plot(times, [r.verdict.max_vm_pu for r in log.grid], label="highest bus voltage")
    for value, name in ((limits.vm_pu_min, "lower"), (limits.vm_pu_max, "upper")):
        axis.axhline(value, color="tab:red", linestyle="--", label=f"{name} limit {value:g} pu")
    axis.set_ylabel("pu")
    axis.legend(**_OUTSIDE)


def _plot_soc(axis: Any, log: SimulationLog) -> None:
    shown = list(log.soc_percent)[:6]
    axis.set_title(
        f"State of charge (first {len(shown)} of {len(log.soc_percent)} vehicles)"
        if len(log.soc_percent) > len(shown)
        else "State of charge"
    )
    for vehicle_id in shown:
        series = log.soc_percent[vehicle_id]
        axis.plot([t for t, _ in series], [s for _, s in series], label=vehicle_id)
    axis.set_ylabel("SoC %")
    if shown:
        axis.legend(**_OUTSIDE)
