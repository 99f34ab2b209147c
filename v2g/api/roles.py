"""Who may do what through the operator API.

``viewer`` reads the fleet, the plan and the grid; ``operator`` reads, overrides
(commands) and manages DR events; ``utility`` sends and manages DR events only (a
utility has no business reading the fleet's vehicles).
"""

from __future__ import annotations

VIEWER, OPERATOR, UTILITY = "viewer", "operator", "utility"
ROLES = (VIEWER, OPERATOR, UTILITY)

READ = frozenset({VIEWER, OPERATOR})
DEMAND_RESPONSE = frozenset({UTILITY, OPERATOR})
COMMAND = frozenset({OPERATOR})
