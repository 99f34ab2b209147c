"""Hypothesis profiles for the property tests, and how many examples a test runs.

- ``default``: random examples, hypothesis' own counts (a developer's run).
- ``ci``: the same counts on a fixed set of examples (``derandomize``), so a red build
  always means a change, never a lucky draw (``.ci/run``).
- ``nightly``: random, ``NIGHTLY_FACTOR`` times the examples (1,000 for a test that sets
  no count), no deadline. Run it before stopping work, ``scripts/nightly``; every
  failure it finds is pinned as an ``@example`` beside the test, with its fix.

A test that sets its own count writes ``max_examples=examples(N)`` so the nightly
profile scales it too (an explicit count beats any profile in hypothesis).
"""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
#: How many times more examples the nightly profile runs (``HYPOTHESIS_NIGHTLY_FACTOR``).
NIGHTLY_FACTOR = int(os.environ.get("HYPOTHESIS_NIGHTLY_FACTOR", "10"))


def register_profiles() -> None:
    settings.register_profile("ci", derandomize=True)
    settings.register_profile(
        "nightly", max_examples=100 * NIGHTLY_FACTOR, deadline=None, print_blob=True
    )
    settings.load_profile(PROFILE)


def examples(count: int) -> int:
    """``count`` examples, times ``NIGHTLY_FACTOR`` under the nightly profile."""
    return count * NIGHTLY_FACTOR if PROFILE == "nightly" else count
