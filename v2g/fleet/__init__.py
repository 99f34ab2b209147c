"""The fleet: connected vehicles, their chargers and their owners' terms.

Pure: folded from session events with ``Fleet.apply``; no I/O, ``now`` is an argument.
"""

from v2g.fleet.fleet import Fleet, FleetError, Site
from v2g.fleet.member import BatteryState, FleetMember
from v2g.fleet.policy import Charger, OwnerPolicy

__all__ = ["BatteryState", "Charger", "Fleet", "FleetError", "FleetMember", "OwnerPolicy", "Site"]
