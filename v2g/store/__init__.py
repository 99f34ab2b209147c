"""The store: sessions, meter values, DR events, plans, the command audit and API
tokens, on SQLAlchemy 2 async. SQLite (WAL) by default, PostgreSQL by URL."""

from v2g.store.audit import AuditEntry, SqlAuditStore
from v2g.store.engine import StoreUnavailable, open_store, sqlite_url
from v2g.store.events import SqlEventStore
from v2g.store.plans import SqlPlanStore
from v2g.store.sessions import SqlSessionStore
from v2g.store.stations import SqlStationStore, StationExists
from v2g.store.tokens import SqlTokenStore, TokenHolder

__all__ = [
    "AuditEntry",
    "SqlAuditStore",
    "SqlEventStore",
    "SqlPlanStore",
    "SqlSessionStore",
    "SqlStationStore",
    "SqlTokenStore",
    "StationExists",
    "StoreUnavailable",
    "TokenHolder",
    "open_store",
    "sqlite_url",
]
