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


def _row_id() -> BigInteger:
    """A 64-bit row id (meter values and status changes from 1,000 stations pass 2**31
    within a year); SQLite's rowid is 64-bit already and autoincrements only as INTEGER."""
    return BigInteger().with_variant(Integer(), "sqlite")


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
    # The vehicle's last needs and limits, so a planner that lost its fleet
    # (a portfolio's restarted shard) rebuilds the session as it was.
    Column("needs", JSON),
    Column("limits", JSON),
)

meter_values = Table(
    "meter_values",
    metadata,
    Column("id", _row_id(), primary_key=True, autoincrement=True),
    Column(
        "session_id", String(128), ForeignKey("sessions.session_id"), nullable=False, index=True
    ),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("power_w", Float, nullable=False),
    Column("soc_percent", Float),
)

# The feeder's base load as measured (factor of the network's own loads), one reading
# per moment; what the base-load forecast learns from (v2g.forecast.baseload).
base_load_readings = Table(
    "base_load_readings",
    metadata,
    Column("at", DateTime(timezone=True), primary_key=True),
    Column("factor", Float, nullable=False),
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
    # Role "driver" only: the driver the token speaks for (v2g.store.migrations adds it).
    Column("driver_id", String(64)),
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

# Tariffs in force (v2g.billing.documents shape); the site TOML seeds an empty table.
tariffs = Table(
    "tariffs",
    metadata,
    Column("tariff_id", String(36), primary_key=True),
    Column("position", Integer, nullable=False),  # the first is the site's default
    Column("body", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# A session's bill, frozen once the session ended (what its CDR says from then on).
bills = Table(
    "bills",
    metadata,
    Column("session_id", String(128), ForeignKey("sessions.session_id"), primary_key=True),
    Column("ended_at", DateTime(timezone=True), nullable=False, index=True),
    Column("body", JSON, nullable=False),
    Column("billed_at", DateTime(timezone=True), nullable=False),
)

# Drivers, their identification tokens (RFID UIDs, central tokens, eMAIDs) and bookings.
drivers = Table(
    "drivers",
    metadata,
    Column("driver_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("blocked_at", DateTime(timezone=True)),
)

id_tokens = Table(
    "id_tokens",
    metadata,
    Column("token_type", String(16), primary_key=True),
    Column("value", String(64), primary_key=True),
    Column("driver_id", String(64), ForeignKey("drivers.driver_id"), nullable=False, index=True),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True)),
    Column("blocked", Boolean, nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("reservation_id", String(32), primary_key=True),
    Column("driver_id", String(64), ForeignKey("drivers.driver_id"), nullable=False, index=True),
    Column("evse_id", String(128), nullable=False, index=True),
    Column("start", DateTime(timezone=True), nullable=False),
    Column("end", DateTime(timezone=True), nullable=False),
    Column("departure", DateTime(timezone=True), nullable=False),
    Column("energy_wh", Float, nullable=False),
    Column("v2g", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every authorization decision that refused a token, with its reason (the audit).
authorizations = Table(
    "authorizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("door", String(32), nullable=False),  # secc, ocpp, api
    Column("token_type", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("evse_id", String(128)),
    Column("status", String(16), nullable=False),
    Column("driver_id", String(64)),
    Column("reason", String(256), nullable=False),
)

# Whose a session is: the driver whose token was accepted for it, or whose booking it
# used (v2g.store.drivers.SqlDriverStore.driver_of).
session_drivers = Table(
    "session_drivers",
    metadata,
    Column("session_id", String(128), primary_key=True),
    Column("driver_id", String(64), ForeignKey("drivers.driver_id"), nullable=False, index=True),
    Column("how", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# What each driver owes (amount > 0) or is owed for a session, and whether it settled.
ledger = Table(
    "ledger",
    metadata,
    Column("session_id", String(128), ForeignKey("bills.session_id"), primary_key=True),
    Column("driver_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("amount", String(32), nullable=False),  # a decimal string: cents stay exact
    Column("currency", String(3), nullable=False),
    Column("settled", Boolean, nullable=False),
    Column("reference", String(256), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
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

# What the CSMS learns of its stations (v2g.ocpp.records): the state each station,
# EVSE and connector is in now, every status change, every transaction and every
# TransactionEvent once (its seqNo is the key, so a replay is never stored twice).
ocpp_station_states = Table(
    "ocpp_station_states",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("online", Boolean, nullable=False),
    Column("version", String(16)),
    Column("vendor_name", String(50)),
    Column("model", String(50)),
    Column("serial_number", String(25)),
    Column("firmware_version", String(50)),
    Column("boot_reason", String(32)),
    Column("booted_at", DateTime(timezone=True)),
    Column("connected_at", DateTime(timezone=True)),
    Column("disconnected_at", DateTime(timezone=True)),
)

ocpp_evses = Table(
    "ocpp_evses",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("ocpp_evse", Integer, primary_key=True),
    Column("evse_id", String(128)),
)

ocpp_connectors = Table(
    "ocpp_connectors",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("ocpp_evse", Integer, primary_key=True),
    Column("connector_id", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

ocpp_status_history = Table(
    "ocpp_status_history",
    metadata,
    Column("id", _row_id(), primary_key=True, autoincrement=True),
    Column("station_id", String(48), nullable=False),
    Column("ocpp_evse", Integer, nullable=False),
    Column("connector_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
Index("ocpp_status_history_station_at", ocpp_status_history.c.station_id, ocpp_status_history.c.at)

ocpp_transactions = Table(
    "ocpp_transactions",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("transaction_id", String(36), primary_key=True),
    Column("session_id", String(128), nullable=False),
    Column("ocpp_evse", Integer, nullable=False),
    Column("evse_id", String(128), nullable=False),
    Column("id_token", String(255)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("stopped_reason", String(64)),
)

ocpp_transaction_events = Table(
    "ocpp_transaction_events",
    metadata,
    Column("station_id", String(48), primary_key=True),
    Column("transaction_id", String(36), primary_key=True),
    # seqNo is an unbounded integer in the schema: 64-bit.
    Column("seq_no", BigInteger, primary_key=True),
    Column("event_type", String(16), nullable=False),
    Column("trigger_reason", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("offline", Boolean, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

#: Who holds what in a portfolio: each feeder's shard (actor name, node, pid) and each
#: station's connection (the service instance it is connected to), as last written.
owners = Table(
    "owners",
    metadata,
    Column("kind", String(16), primary_key=True),  # "feeder" or "station"
    Column("name", String(128), primary_key=True),
    Column("owner", String(256), nullable=False),
    Column("node", String(256), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
