"""The OCPP SessionLink of ``v2g serve``: the CSMS built from the site's ``[ocpp]``
table, its station credentials read from the store."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.clock import Clock
from v2g.ocpp.authorize import AllowList
from v2g.ocpp.config import OcppSiteConfig
from v2g.ocpp.csms import Csms
from v2g.service.driver_authorizer import DriverAuthorizer
from v2g.session import SessionEvent
from v2g.store import SqlStationStore
from v2g.store.drivers import SqlDriverStore


def ocpp_csms(
    config: OcppSiteConfig,
    engine: AsyncEngine,
    on_event: Callable[[SessionEvent], object],
    clock: Clock,
) -> Csms:
    """The CSMS for ``config``; its session events go to ``on_event``. Authorize is
    answered from the site's drivers, then its ``id_tokens``."""
    authorizer = DriverAuthorizer(SqlDriverStore(engine), AllowList(config.id_tokens or ()), clock)
    return Csms(config, SqlStationStore(engine), on_event, clock, authorizer=authorizer)
