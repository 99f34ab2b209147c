"""Grid physics for dispatch: feeder limits, verdicts and exact AC power flows
(pandapower is the model of record).

Standalone: never imports ``v2g``. Power at a connection point is in W, + = load
(a vehicle charging), - = injection (a vehicle discharging); MW appear only inside the
pandapower adapter (``gridmodel.powerflow``).
"""

from gridmodel.check import AcGridCheck, judge
from gridmodel.limits import GridLimits
from gridmodel.networks import BUILT_INS, Network, NetworkError, load_network
from gridmodel.verdict import GridVerdict, Headroom, Injection, InvalidInjection, Violation

__all__ = [
    "BUILT_INS",
    "AcGridCheck",
    "GridLimits",
    "GridVerdict",
    "Headroom",
    "Injection",
    "InvalidInjection",
    "Network",
    "NetworkError",
    "Violation",
    "judge",
    "load_network",
]
