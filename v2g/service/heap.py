"""The process heap once the service has started: frozen out of the garbage
collector's reach, with young collections sized for a 10,000-vehicle plan (decision 61).

Start-up builds a few hundred thousand long-lived objects (the network, pandas and
pandapower, the feeder's warmed linear model, every imported module). Left to the
collector, each full collection rescans them all: 0.2-0.5 s measured here, and with
CPython's default thresholds one lands inside most 10,000-vehicle plans, whose per-vehicle
objects (corridors, bounds, shares, setpoints) trigger hundreds of young collections per
plan. Frozen, a full pass sees only what the service holds now (fleet, last plan).
"""

from __future__ import annotations

import gc

#: Allocations between young collections (CPython's default is 700): a plan for 10,000
#: vehicles allocates a few hundred thousand tracked objects, so full collections,
#: which CPython runs after every hundred young ones, come every few plans rather than
#: several times a plan. A young pass over 20,000 objects costs a few ms.
YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """Collect, freeze what start-up built, and widen the young generation. Call once,
    after start-up and before the first control cycle (process-wide)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
