"""Independent implementations the tests check our output with, each in a virtual
environment of its own (made by a script in scripts/), called as a subprocess: the
openadr3 package (pydantic v2, which can never enter .venv) and ocpi-types.

Without the environment (no network to make it) a test skips, unless the named
``V2G_REQUIRE_*`` variable is 1 (CI), which makes that an error.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def environment_python(script: str, required_by: str) -> str:
    """The python of the environment ``scripts/<script>`` makes (once)."""
    made = subprocess.run(
        [str(ROOT / "scripts" / script)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if made.returncode != 0:
        reason = f"no {script} environment: {made.stderr[-500:]}"
        if os.environ.get(required_by) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return made.stdout.strip().splitlines()[-1]
