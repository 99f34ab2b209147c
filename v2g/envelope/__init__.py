"""Flexibility per vehicle and the fleet's virtual-battery envelope (pure).

See README.md in this folder for the math.
"""

from v2g.envelope.envelope import FleetEnvelope, envelope_of, fleet_envelope
from v2g.envelope.flexibility import (
    Efficiency,
    FleetFlexibility,
    Flexibility,
    fleet_flexibility,
    flexibilities,
    flexibility,
)
from v2g.envelope.horizon import Horizon

__all__ = [
    "Efficiency",
    "FleetEnvelope",
    "FleetFlexibility",
    "Flexibility",
    "Horizon",
    "envelope_of",
    "fleet_envelope",
    "fleet_flexibility",
    "flexibilities",
    "flexibility",
]
