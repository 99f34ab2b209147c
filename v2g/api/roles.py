"""Who may do what through the operator API.

``viewer`` reads the fleet, the plan and the grid; ``operator`` reads, overrides
(commands) and manages DR events; ``utility`` sends and manages DR events only (a
utility has no business reading the fleet's vehicles); ``driver`` (a token bound to
one driver) sees and books for that driver only.
"""

from __future__ import annotations

VIEWER, OPERATOR, UTILITY, DRIVER = "viewer", "operator", "utility", "driver"
ROLES = (VIEWER, OPERATOR, UTILITY, DRIVER)

READ = frozenset({VIEWER, OPERATOR})
DEMAND_RESPONSE = frozenset({UTILITY, OPERATOR})
COMMAND = frozenset({OPERATOR})
#: A driver's own resources (the handler checks it is their own); operators see all.
OWN = frozenset({DRIVER, OPERATOR})
