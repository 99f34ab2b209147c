"""The fleet: connected vehicles, their chargers and their owners' terms.

Pure: folded from session events with ``Fleet.apply``; no I/O, ``now`` is an argument.
"""

from v2g.fleet.corridor import (
    ENERGY_REQUESTS,
    SITE_DEFAULT,
    SOC_AND_CAPACITY,
    Corridor,
    Corridors,
    corridor_of,
    corridors,
    expected_departure,
)
from v2g.fleet.expected import ExpectedArrival
from v2g.fleet.fleet import Fleet, FleetError, Site
from v2g.fleet.member import FleetMember
from v2g.fleet.policy import Charger, DefaultNeeds, OwnerPolicy

__all__ = [
    "ENERGY_REQUESTS",
    "SITE_DEFAULT",
    "SOC_AND_CAPACITY",
    "Charger",
    "Corridor",
    "Corridors",
    "DefaultNeeds",
    "ExpectedArrival",
    "Fleet",
    "FleetError",
    "FleetMember",
    "OwnerPolicy",
    "Site",
    "corridor_of",
    "corridors",
    "expected_departure",
]
