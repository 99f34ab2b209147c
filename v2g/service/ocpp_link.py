"""The OCPP SessionLink of ``v2g serve``: the CSMS built from the site's ``[ocpp]``
table, its station credentials read from the store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.clock import Clock
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms
from v2g.session import SessionEvent
from v2g.store import SqlStationStore


def ocpp_csms(
    config: OcppSiteConfig,
    engine: AsyncEngine,
    on_event: Callable[[SessionEvent], object],
    clock: Clock,
) -> Csms:
    """The CSMS for ``config``; its session events go to ``on_event``."""
    return Csms(config, SqlStationStore(engine), on_event, clock)
