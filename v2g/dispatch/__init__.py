"""Dispatch: allocate the fleet's power over the horizon within the grid's limits, and
turn the current slot into setpoints (pure; the grid is reached through GridModel).
See README.md in this folder for the math."""

from v2g.dispatch.allocation import Allocation, AllocationFailed, allocate
from v2g.dispatch.baselines import RULES, plan_by_rule
from v2g.dispatch.grid import GridModel, GridRows
from v2g.dispatch.inputs import PlanInputs, PlannerSettings
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.planner import plan_dispatch

__all__ = [
    "RULES",
    "Allocation",
    "AllocationFailed",
    "DispatchPlan",
    "GridModel",
    "GridRows",
    "PlanInputs",
    "PlannerSettings",
    "allocate",
    "plan_by_rule",
    "plan_dispatch",
]
