"""On ``PYTHONPATH`` for Ray's processes (``v2g.portfolio.cluster`` puts it there, the
README says how on a cluster): each process started from Ray's package loads Ray's
pydantic compatibility module with pydantic hidden (``v2g.portfolio.ray_guard`` says
why); the dashboard agent keeps pydantic hidden. Other processes are left alone.
"""

import sys

_ARGV0 = sys.argv[0].replace("\\", "/") if sys.argv else ""
if "/ray/" in _ARGV0:
    from v2g.portfolio.ray_guard import load_ray_without_pydantic

    load_ray_without_pydantic(keep_hidden=_ARGV0.endswith("ray/dashboard/agent.py"))
