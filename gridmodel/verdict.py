"""Grid verdicts as plain values: what was asked, what broke, how much room is left.

Power is in W with the product's sign convention at a connection point: + is a load
(a vehicle charging), - is an injection into the grid (a vehicle discharging).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class InvalidInjection(ValueError):
    """An injection that cannot be right (NaN power, unknown bus)."""


def element_name(kind: str, index: int, name: object) -> str:
    """How verdicts name a network element: "line 12 'Line R11-R12'" (or "line 12")."""
    return f"{kind} {index} '{name}'" if isinstance(name, str) and name else f"{kind} {index}"


@dataclass(frozen=True, slots=True)
class Injection:
    """Extra power at one bus (index into the network's buses), in W (+ = load)."""

    bus: int
    power_w: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.power_w):
            raise InvalidInjection(f"injection at bus {self.bus} is not finite: {self.power_w}")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken limit: ``element`` names it ("line 12 'Line R11-R12'"), ``metric`` says
    what ("loading_percent", "vm_pu_max", "converged"), with the value and the limit."""

    element: str
    metric: str
    value: float
    limit: float


@dataclass(frozen=True, slots=True)
class GridVerdict:
    """The result of one AC check. A power flow that did not converge is a violation."""

    violations: tuple[Violation, ...]
    max_line_loading_percent: float
    max_trafo_loading_percent: float
    min_vm_pu: float
    max_vm_pu: float
    converged: bool = True

    @property
    def ok(self) -> bool:
        return self.converged and not self.violations

    @classmethod
    def not_converged(cls, detail: str) -> GridVerdict:
        nan = math.nan
        return cls(
            (Violation(f"power flow ({detail})", "converged", 0.0, 1.0),),
            nan,
            nan,
            nan,
            nan,
            converged=False,
        )


@dataclass(frozen=True, slots=True)
class Headroom:
    """How much more power fits at one connection point before a limit binds, in W
    (both >= 0), and the element that binds each way."""

    bus: int
    bus_name: str
    charge_w: float
    charge_binding: str
    discharge_w: float
    discharge_binding: str
