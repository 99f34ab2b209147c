"""The store's tables (SQLAlchemy Core): one schema for SQLite and PostgreSQL.

Times are stored as aware UTC datetimes; powers in W, energies in Wh, as everywhere.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(128), primary_key=True),
    Column("evse_id", String(128), nullable=False, index=True),
    Column("ev_id", String(128)),
    Column("protocol", String(64)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", String(256)),
)

meter_values = Table(
    "meter_values",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "session_id", String(128), ForeignKey("sessions.session_id"), nullable=False, index=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("power_w", Float, nullable=False),
    Column("soc_percent", Float),
)

dr_events = Table(
    "dr_events",
    metadata,
    Column("event_id", String(256), primary_key=True),
    # 64-bit: OpenADR 3 revisions are epoch milliseconds (v2g.store.migrations).
    Column("modification_number", BigInteger, nullable=False),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("value_w", Float, nullable=False),
    Column("channel", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
)

plans = Table(
    "plans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("strategy", String(64), nullable=False),
    Column("grid_ok", Boolean),
    Column("body", JSON, nullable=False),
)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("command", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("outcome", String(512), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),
    Column("role", String(32), nullable=False),
    # Only a hash of the secret is ever stored (SHA-256 of a high-entropy random token).
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

Index("meter_values_session_at", meter_values.c.session_id, meter_values.c.at)

# DR event lifecycle: each start and end of an event revision, handled exactly once
# (on time by the scheduler, or at start-up after a downtime; see v2g.aggregator.lifecycle).
dr_boundaries = Table(
    "dr_boundaries",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("event_id", String(256), nullable=False, index=True),
    Column("modification_number", BigInteger, nullable=False),
    Column("edge", String(8), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
    Column("how", String(128), nullable=False),
)

# Measurement and verification per DR event revision: energy asked and delivered
# against the baseline, accumulated cycle by cycle (v2g.demand_response.measurement).
dr_measurements = Table(
    "dr_measurements",
    metadata,
    Column("event_id", String(256), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# OCPP charging stations and their basic-auth credentials (only a hash of the password).
stations = Table(
    "stations",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("password_sha256", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Metered M&V per DR event (v2g.demand_response.metering): energy the meters saw over
# the event's window against the plan and meter baselines, as last computed.
dr_metered = Table(
    "dr_metered",
    metadata,
    Column("event_id", String(256), primary_key=True),
    Column("body", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Metered M&V reads meter values by time window (v2g.store.metering): without this a
# window is a scan of every meter value ever stored. Stores made before it get it in
# v2g.store.migrations.
meter_values_at = Index("ix_meter_values_at", meter_values.c.at)
