"""The feeder model behind the planner's ``GridModel`` seam: gridmodel's AC check and
Jacobian rows, with the calibration learnt from AC checks (an edge, not pure planning)."""

from v2g.feeder.grid import FeederGrid

__all__ = ["FeederGrid"]
