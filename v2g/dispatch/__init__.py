"""Dispatch: allocate the fleet's power over the horizon within the grid's limits, and
turn the current slot into setpoints (pure; the grid is reached through GridModel)."""

from v2g.dispatch.allocation import Allocation, AllocationFailed, allocate
from v2g.dispatch.grid import FeederGrid, GridModel, GridRows
from v2g.dispatch.plan import DispatchPlan
from v2g.dispatch.planner import PlanInputs, PlannerSettings, plan_dispatch

__all__ = [
    "Allocation",
    "AllocationFailed",
    "DispatchPlan",
    "FeederGrid",
    "GridModel",
    "GridRows",
    "PlanInputs",
    "PlannerSettings",
    "allocate",
    "plan_dispatch",
]
