"""What the API's handlers work with, held in the app under one typed key."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from v2g.aggregator import Aggregator
from v2g.aggregator.intake import DemandResponseIntake
from v2g.api.auth import TokenCheck
from v2g.api.feed import SnapshotFeed
from v2g.store import SqlAuditStore, SqlSessionStore


@dataclass(frozen=True)
class Services:
    """The aggregator (commands go to it), the DR intake (the one door for events),
    the stores the API reads and writes, the token check, the snapshot feed, and
    request counts by status (for /metrics)."""

    aggregator: Aggregator
    intake: DemandResponseIntake
    sessions: SqlSessionStore
    audit: SqlAuditStore
    tokens: TokenCheck
    feed: SnapshotFeed
    responses: Counter[int] = field(default_factory=Counter)


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]
