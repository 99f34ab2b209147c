"""V2G: an ISO 15118 charger controller (SECC) and a vehicle-to-grid aggregator.

Sign convention everywhere: power > 0 flows into the vehicle (charging), power < 0
flows out of it (discharging to the grid). Units are SI with the unit in the name:
``power_w``, ``energy_wh``, ``voltage_v``, ``current_a``, ``duration_s``.
"""

__version__ = "0.1.0"
