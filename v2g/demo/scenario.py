"""The demo's day: a simulated fleet on a built-in feeder, an evening DR discharge
event and a price curve, as a scenario of ``v2g simulate`` (so a demo can be rerun
and varied from the ``scenario.json`` it leaves in its report folder).

Deterministic: the same options give the same fleet.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from gridmodel import Network
from gridmodel.loads import own_load_w

#: The demo day starts at 16:00 UTC, so even a short run reaches the 18:00 DR event.
START = datetime.fromisoformat("2026-07-01T16:00:00+00:00")
STEP_S = 900
#: Share of the V2G fleet's discharge power the utility asks for.
DR_SHARE = 0.4
#: The base-load profile: (hours from the start, factor on the network's own loads).
BASE_LOAD = ((0, 0.6), (1, 0.85), (2, 0.9), (6, 0.65), (9, 0.35), (14, 0.55), (18, 0.6))
#: Its highest factor (what fit_base_load checks).
PEAK_BASE_LOAD = max(factor for _, factor in BASE_LOAD)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _at(hours: float) -> str:
    return _iso(START + timedelta(hours=hours))


def demo_scenario(
    network: Network,
    vehicles: int,
    hours: float,
    seed: int = 7,
    base_load_scale: float = 1.0,
) -> dict[str, Any]:
    """A scenario document (docs/scenario.md) for ``vehicles`` cars over ``hours`` hours on
    ``network``: cars spread over the buses that carry load (homes), most arriving
    in the evening and leaving next morning, two in three allowing V2G. The base-load
    profile is BASE_LOAD times ``base_load_scale`` (v2g.demo.base_case)."""
    rng = random.Random(seed)
    buses = sorted(own_load_w(network)) or list(network.net.bus.index)
    cars: list[dict[str, Any]] = []
    for i in range(vehicles):
        arrive_h = rng.uniform(-1.0, 3.0)  # some are home already at 16:00
        stay_h = rng.uniform(11.0, 16.0)
        capacity_wh = rng.choice((40_000, 58_000, 64_000, 77_000, 82_000))
        v2g = i % 3 != 2
        cars.append(
            {
                "id": f"ev-{i + 1:03d}",
                "bus": int(buses[i % len(buses)]),
                "arrival": _at(max(arrive_h, 0.0)),
                "departure": _at(max(arrive_h, 0.0) + stay_h),
                "capacity_wh": capacity_wh,
                "soc_arrival_percent": round(rng.uniform(35, 75)),
                "soc_target_percent": rng.choice((80, 85, 90)),
                "soc_reserve_percent": 30,
                "max_charge_w": rng.choice((7_400, 11_000)),
                "max_discharge_w": 7_400 if v2g else 0,
                "v2g": v2g,
            }
        )
    discharge_w = sum(c["max_discharge_w"] for c in cars)
    dr_w = round(DR_SHARE * discharge_w, -3)
    return {
        "start": _at(0),
        "end": _at(hours),
        "step_s": STEP_S,
        "feeder": {
            "network": network.name,
            "base_load_profile": [
                [_at(hour), round(factor * base_load_scale, 4)] for hour, factor in BASE_LOAD
            ],
        },
        "vehicles": cars,
        "dr_events": [
            {
                "id": "evt-evening-peak",
                "start": _at(2),
                "end": _at(4),
                "kind": "export_w",
                "value": dr_w,
            }
        ]
        if dr_w > 0
        else [],
        "currency": "EUR",
        "prices": [
            [_at(0), 0.32],
            [_at(1), 0.45],
            [_at(5), 0.28],
            [_at(8), 0.15],
            [_at(14), 0.25],
            [_at(18), 0.3],
        ],
    }
