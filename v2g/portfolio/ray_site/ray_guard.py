"""Ray 2.60 next to pydantic 1 (which iso15118 pins): what it takes.

Ray refuses pydantic 1: ``ray._common.pydantic_compat`` raises ImportError("Pydantic v1
is no longer supported") when it finds it, and Ray imports that module in every
process that serializes (``serialization_addons.apply``: the driver and each worker)
and in its dashboard agent, so with pydantic 1 installed Ray cannot start an actor,
and the agent (and with it the raylet) exits at start-up. On a plain ``pip install
ray`` pydantic is absent and Ray runs without it. So each Ray process loads that
module once with pydantic hidden (Ray then registers no pydantic serializers: the
portfolio sends none through Ray) and gets pydantic back at once; the dashboard agent
keeps it hidden (its modules import pydantic themselves). The shards' own code sees
pydantic 1 as usual.
"""

from __future__ import annotations

import importlib
import sys


def load_ray_without_pydantic(keep_hidden: bool = False) -> None:
    """Import Ray's pydantic compatibility module with pydantic hidden; pydantic comes
    back afterwards unless ``keep_hidden``."""
    if "ray._common.pydantic_compat" in sys.modules:
        return
    before = sys.modules.get("pydantic")
    sys.modules["pydantic"] = None  # type: ignore[assignment]  # import -> ModuleNotFoundError
    try:
        importlib.import_module("ray._common.pydantic_compat")
    finally:
        if not keep_hidden:
            if before is None:
                del sys.modules["pydantic"]
            else:
                sys.modules["pydantic"] = before
