"""Flexibility per vehicle and the fleet's virtual-battery envelope (pure).

See README.md in this folder for the math.
"""

from v2g.envelope.envelope import FleetEnvelope, fleet_envelope
from v2g.envelope.flexibility import Efficiency, Flexibility, flexibilities, flexibility
from v2g.envelope.horizon import Horizon

__all__ = [
    "Efficiency",
    "FleetEnvelope",
    "Flexibility",
    "Horizon",
    "fleet_envelope",
    "flexibilities",
    "flexibility",
]
