"""On ``PYTHONPATH`` for Ray's processes (``v2g.portfolio.cluster`` puts this folder
there; the README says how on a cluster): each process started from Ray's package
loads Ray's pydantic compatibility module with pydantic hidden (``ray_guard`` beside
this file says why); the dashboard agent keeps pydantic hidden. Other processes are
left alone. Self-contained: it runs before (and without) the v2g package.
"""

import sys

# The whole command line: ``sys.argv[0]`` is only "-m" here for ``python -m ray...``
# (the Ray Client server, for one).
_COMMAND = " ".join(getattr(sys, "orig_argv", sys.argv)).replace("\\", "/")
if "/ray/" in _COMMAND or " -m ray." in _COMMAND:
    from ray_guard import load_ray_without_pydantic  # type: ignore[import-not-found]

    load_ray_without_pydantic(keep_hidden="ray/dashboard/agent.py" in _COMMAND)
