"""On ``PYTHONPATH`` for Ray's processes (``v2g.portfolio.cluster`` puts this folder
there; the README says how on a cluster): each process started from Ray's package
loads Ray's pydantic compatibility module with pydantic hidden (``ray_guard`` beside
this file says why); the dashboard agent keeps pydantic hidden. Other processes are
left alone. Self-contained: it runs before (and without) the v2g package.
"""

import sys

_ARGV0 = sys.argv[0].replace("\\", "/") if sys.argv else ""
if "/ray/" in _ARGV0:
    from ray_guard import load_ray_without_pydantic  # type: ignore[import-not-found]

    load_ray_without_pydantic(keep_hidden=_ARGV0.endswith("ray/dashboard/agent.py"))
