"""``v2g simulate``: the real planner and grid check on a scenario in simulated time."""

from v2g.simulation.report import summary, write_report
from v2g.simulation.run import SimulationLog, simulate
from v2g.simulation.scenario import InvalidScenario, Scenario, parse_scenario

__all__ = [
    "InvalidScenario",
    "Scenario",
    "SimulationLog",
    "parse_scenario",
    "simulate",
    "summary",
    "write_report",
]
