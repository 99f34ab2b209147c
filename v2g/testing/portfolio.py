"""Generated feeders for portfolio tests and benchmarks: chargers at a network's load
buses and the session events that plug a vehicle into each (the real fold)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import cast

from gridmodel import load_network
from v2g.fleet import Charger
from v2g.portfolio.config import FeederConfig
from v2g.service.config import SiteConfig, VehicleConfig
from v2g.session import SessionEvent
from v2g.testing.fleet import FleetBuilder


def generated_feeder(
    name: str, network: str, vehicles: int, now: datetime, seed: int = 1, v2g_share: float = 0.7
) -> tuple[FeederConfig, list[SessionEvent]]:
    """Feeder ``name`` on ``network`` with ``vehicles`` vehicles at random load buses,
    plugged in at ``now`` for 8-15 h, 25-70 % full, wanting 80 %; ``v2g_share`` of
    their owners allow discharge (11 kW each way, 30 % reserve)."""
    rnd = random.Random(seed)
    buses = load_network(network).connection_buses()
    builder = FleetBuilder(now)
    for i in range(vehicles):
        v2g = rnd.random() < v2g_share
        builder.vehicle(
            f"{name}-ev{i:05d}",
            bus=rnd.choice(buses),
            soc_percent=rnd.randint(25, 70),
            capacity_wh=rnd.choice([40_000, 60_000, 77_000]),
            departure=now + timedelta(hours=rnd.uniform(8, 15)),
            max_discharge_w=11_000.0 if v2g else 0.0,
            v2g=v2g,
            reserve_soc_percent=30.0,
        )
    site = SiteConfig(
        network=network,
        chargers=tuple(cast(list[Charger[str | int]], builder.chargers)),
        vehicles=tuple(
            VehicleConfig(ev_id, p.v2g_allowed, p.reserve_soc_percent, p.accept_shortfall)
            for ev_id, p in builder.policies.items()
        ),
    )
    return FeederConfig(name, site), list(builder.events)
