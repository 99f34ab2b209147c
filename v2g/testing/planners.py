"""Planner fakes for the control cycle's fail-closed branches: a planner that raises and
one that is late (it waits until released, then plans for real)."""

from __future__ import annotations

import threading

from v2g.dispatch import DispatchPlan, GridModel, PlanInputs, PlannerSettings, plan_dispatch


class FailingPlanner:
    """A planner with a bug: every call raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error or RuntimeError("planner bug")
        self.calls = 0

    def __call__(
        self, inputs: PlanInputs, grid: GridModel, settings: PlannerSettings | None = None
    ) -> DispatchPlan:
        self.calls += 1
        raise self.error


class HeldPlanner:
    """``plan_dispatch`` that, while ``held``, waits for ``release`` first: a plan that
    comes after the cycle's timeout. Keeps every plan it returned (``returned``)."""

    def __init__(self) -> None:
        self.held = False
        self.release = threading.Event()
        self.done = threading.Event()
        self.returned: list[DispatchPlan] = []

    def __call__(
        self, inputs: PlanInputs, grid: GridModel, settings: PlannerSettings | None = None
    ) -> DispatchPlan:
        if self.held:
            self.release.wait(timeout=30)
        plan = plan_dispatch(inputs, grid, settings)
        self.returned.append(plan)
        self.done.set()
        return plan
