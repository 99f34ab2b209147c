"""overview.png says what it shows: a title, a legend entry for every line, the
network's limits as lines, the price curve, and times in UTC."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

from gridmodel import GridLimits
from v2g.simulation import parse_scenario
from v2g.simulation.report import overview_figure
from v2g.simulation.run import SimulationLog

from .test_simulate_command import scenario

matplotlib.use("Agg")

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def a_log(document) -> SimulationLog:
    """A run's log as a report reads it (simulated by the real loop)."""
    from gridmodel import AcGridCheck, load_network
    from v2g.feeder import FeederGrid
    from v2g.simulation.run import simulate

    parsed = parse_scenario(document)
    network = load_network(parsed.network)
    grid = FeederGrid(AcGridCheck(network))
    return simulate(parsed, grid, network.resolve_bus)


@pytest.mark.parametrize(
    "limits", [GridLimits(), GridLimits(80.0, 90.0, 0.92, 1.08), GridLimits(100, 100, 0.9, 1.1)]
)
def test_the_overview_names_every_line_and_draws_the_limits(limits):
    import matplotlib.pyplot as plt

    document = scenario(currency="CHF")
    figure = overview_figure(parse_scenario(document), a_log(document), limits)
    try:
        assert "cigre-lv" in figure.texts[0].get_text() and "UTC" in figure.texts[0].get_text()
        labels = {
            text.get_text()
            for axis in figure.axes
            if axis.get_legend() is not None
            for text in axis.get_legend().get_texts()
        }
        assert "price (CHF/kWh)" in labels
        assert any(label.startswith("DR evt-1") for label in labels)
        assert f"line limit {limits.max_line_loading_percent:g} %" in labels
        assert f"lower limit {limits.vm_pu_min:g} pu" in labels
        assert f"upper limit {limits.vm_pu_max:g} pu" in labels
        assert {"lowest bus voltage", "highest bus voltage", "max line"} <= labels
        if limits.max_trafo_loading_percent != limits.max_line_loading_percent:
            assert f"transformer limit {limits.max_trafo_loading_percent:g} %" in labels
        for axis in figure.axes:  # every series with data has a name (not axhline(0))
            for line in axis.get_lines():
                if len(set(line.get_ydata())) > 1:
                    assert not line.get_label().startswith("_"), axis.get_title()
        assert all(axis.get_title() for axis in figure.axes if axis.get_legend())
        assert figure.axes[3].get_xlabel() == "time (UTC)"
    finally:
        plt.close(figure)


def test_simulate_writes_the_overview_png(tmp_path):
    """Kept in test-artifacts/overview.png for a person to look at."""
    from v2g.cli import main

    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario()))
    assert main(["simulate", str(path), "--out", str(tmp_path / "r"), "--json"]) == 0
    png = (tmp_path / "r" / "overview.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "overview.png").write_bytes(png)
