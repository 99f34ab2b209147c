"""One linear program, solved by HiGHS's dual simplex through ``highspy`` directly.

Why not ``scipy.optimize.linprog(method="highs")``, which runs the same solver: at
10,000 vehicles the horizon LP (about 9,000 columns, 7,000 rows, 170,000 non-zeros)
is most of a control cycle, and scipy's wrapper converts and checks the matrices
again on every call (15-20 ms a call, two or three calls a cycle).

Presolve stays on. Off, the dual simplex is about 60 ms faster on that LP, but it
then ends on another of the equally cheap optima, and on the oracle's lv-commercial
scenario that one left two vehicles short (tests/oracle/test_planner_vs_oracle.py):
the plan for slot 0 among equal optima is not yet robust to the vertex chosen."""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import scipy.sparse as sp

from v2g.dispatch.grid import FloatArray

_INF = highspy.kHighsInf


class LpFailed(RuntimeError):
    """HiGHS stopped without an optimum (time limit, numerical trouble)."""


@dataclass(frozen=True)
class LpSolution:
    x: FloatArray
    iterations: int


#: HiGHS's simplex scaling: by each row's and column's largest value first (the grid
#: rows' coefficients, pu per kW, 1e-7..1, and the tiered costs, 0.1..3e4 per kWh, span
#: far more than HiGHS's default equilibration handles well; this takes a third fewer
#: iterations on the 10,000-vehicle horizon LP, to the same optimum). Where that ends in
#: numerical trouble (a 1,000-vehicle fleet on a feeder whose base load already breaks
#: limits: relief costs near 3e10), once more with HiGHS's own equilibration.
SCALE_STRATEGIES = (4, 1)


def solve_lp(
    cost: FloatArray,
    a_ub: sp.spmatrix,
    b_ub: FloatArray,
    a_eq: sp.spmatrix,
    b_eq: FloatArray,
    bounds: FloatArray,
    time_limit_s: float,
) -> LpSolution:
    """Minimise ``cost @ x`` s.t. ``a_ub @ x <= b_ub``, ``a_eq @ x == b_eq`` and
    ``bounds[:, 0] <= x <= bounds[:, 1]`` (infinite where unbounded), as ``linprog``
    takes them. Raises ``LpFailed`` when no optimum is found within ``time_limit_s``."""
    matrix = sp.vstack([a_ub, a_eq], format="csc")
    rows = (
        np.concatenate([np.full(a_ub.shape[0], -_INF), b_eq]).astype(np.float64),
        np.concatenate([b_ub, b_eq]).astype(np.float64),
    )
    columns = (_finite_or(bounds[:, 0], -_INF), _finite_or(bounds[:, 1], _INF))
    status = "not run"
    for strategy in SCALE_STRATEGIES:
        highs = _highs(strategy, time_limit_s)
        # The arrays go to HiGHS as they are (a HighsLp's fields copy element by
        # element, 12 ms for this LP's 170,000 non-zeros). HiGHS takes a column's start.
        passed = highs.passModel(
            len(cost),
            matrix.shape[0],
            matrix.nnz,
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.asarray(cost, dtype=np.float64),
            *columns,
            *rows,
            matrix.indptr[:-1].astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(np.float64),
            np.zeros(len(cost), dtype=np.int32),  # every column continuous
        )
        if passed == highspy.HighsStatus.kError:
            raise LpFailed("HiGHS refused the model (inconsistent sizes or values)")
        highs.run()
        found = highs.getModelStatus()
        if found == highspy.HighsModelStatus.kOptimal:
            return LpSolution(
                np.asarray(highs.getSolution().col_value, dtype=np.float64),
                int(highs.getInfo().simplex_iteration_count),
            )
        status = highs.modelStatusToString(found)
        if found == highspy.HighsModelStatus.kTimeLimit:
            break  # another scaling would not have the time either
    raise LpFailed(status)


def _highs(scale_strategy: int, time_limit_s: float) -> highspy.Highs:
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's __init__ is unannotated
    for option, value in (
        ("output_flag", False),
        ("presolve", "on"),
        ("solver", "simplex"),
        ("simplex_scale_strategy", scale_strategy),
        ("time_limit", max(time_limit_s, 0.05)),
    ):
        highs.setOptionValue(option, value)
    return highs


def _finite_or(values: FloatArray, infinity: float) -> FloatArray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, infinity)
