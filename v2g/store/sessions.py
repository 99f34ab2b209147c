"""Charging sessions and their meter values in the store."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from v2g.session import (
    ChargeNeeds,
    DischargeLimits,
    LimitsReported,
    NeedsReported,
    PowerMeasured,
    SessionEnded,
    SessionEvent,
    SessionStarted,
    TransferLimits,
)
from v2g.store.schema import meter_values, sessions
from v2g.store.times import aware
from v2g.usage import MeterSample, SessionSpan


class SqlSessionStore:
    """Records session starts, ends and measured power as the SECC reports them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, event: SessionEvent) -> None:
        """Keep what matters of ``event`` (of needs and limits, the last)."""
        await self.record_all([event])

    async def record_all(self, events: Sequence[SessionEvent]) -> None:
        """Keep ``events`` in their order, in one database transaction."""
        async with self._engine.begin() as connection:
            measured: list[dict[str, Any]] = []
            for event in events:
                if isinstance(event, PowerMeasured):
                    # Runs of meter values go in one statement (after their session).
                    measured.append(
                        {
                            "session_id": event.session_id,
                            "at": event.at,
                            "power_w": event.power_w,
                            "soc_percent": event.soc_percent,
                        }
                    )
                    continue
                if measured:
                    await connection.execute(meter_values.insert(), measured)
                    measured = []
                await _record(connection, event)
            if measured:
                await connection.execute(meter_values.insert(), measured)

    async def sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(sessions).order_by(sessions.c.started_at.desc()).limit(limit)
            )
            return [dict(row) for row in rows.mappings()]

    async def session(self, session_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(sessions).where(sessions.c.session_id == session_id)
                )
            ).first()
            return None if row is None else dict(row._mapping)

    async def meter_values(self, session_id: str) -> list[dict[str, Any]]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(meter_values)
                .where(meter_values.c.session_id == session_id)
                .order_by(meter_values.c.at)
            )
            return [dict(row) for row in rows.mappings()]

    async def open_sessions(self, evse_ids: Collection[str]) -> list[SessionEvent]:
        """The sessions still open at ``evse_ids``, as the events that rebuild them in a
        fleet: each one's start, its last limits and needs, and its last meter value.
        Two queries whatever the number of sessions (a shard of a thousand chargers)."""
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(sessions)
                    .where(sessions.c.evse_id.in_(list(evse_ids)), sessions.c.ended_at.is_(None))
                    .order_by(sessions.c.started_at)
                )
            ).all()
            latest = (
                select(meter_values.c.session_id, func.max(meter_values.c.at).label("at"))
                .where(meter_values.c.session_id.in_([row.session_id for row in rows]))
                .group_by(meter_values.c.session_id)
                .subquery()
            )
            lasts = await connection.execute(
                select(meter_values).join(
                    latest,
                    (meter_values.c.session_id == latest.c.session_id)
                    & (meter_values.c.at == latest.c.at),
                )
            )
            last_of = {last.session_id: last for last in lasts}
        return [event for row in rows for event in _rebuilt(row, last_of.get(row.session_id))]

    async def started_at(self, evse_id: str, since: datetime, until: datetime) -> bool:
        """Whether a session started at ``evse_id`` between ``since`` and ``until``
        (a car that came for a booking, not one that was there before it)."""
        spans, _ = await self.usage_records(since, until)
        return any(s.evse_id == evse_id and s.started_at >= since for s in spans)

    async def usage_records(
        self, start: datetime, end: datetime
    ) -> tuple[list[SessionSpan], list[MeterSample]]:
        """The sessions plugged in at some time between ``start`` and ``end``, and their
        meter values up to ``end`` (those before ``start`` too: the one before it holds
        at ``start``)."""
        # SQLite keeps wall times without their zone; the product writes UTC.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        overlapping = sessions.c.started_at < end
        overlapping &= or_(sessions.c.ended_at.is_(None), sessions.c.ended_at > start)
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(sessions).where(overlapping))
            spans = [
                SessionSpan(
                    r["session_id"],
                    r["evse_id"],
                    aware(r["started_at"]),
                    None if r["ended_at"] is None else aware(r["ended_at"]),
                )
                for r in rows.mappings()
            ]
            ids = [span.session_id for span in spans]
            values = await connection.execute(
                select(meter_values.c.session_id, meter_values.c.at, meter_values.c.power_w)
                .where(meter_values.c.session_id.in_(ids), meter_values.c.at < end)
                .order_by(meter_values.c.session_id, meter_values.c.at)
            )
            samples = [MeterSample(v[0], aware(v[1]), float(v[2])) for v in values]
        return spans, samples

    async def samples(self, session_id: str) -> list[MeterSample]:
        """The session's meter values as samples, in time order."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(meter_values.c.at, meter_values.c.power_w)
                .where(meter_values.c.session_id == session_id)
                .order_by(meter_values.c.at, meter_values.c.id)
            )
            return [MeterSample(session_id, aware(at), float(power_w)) for at, power_w in rows]


async def _record(connection: AsyncConnection, event: SessionEvent) -> None:
    if isinstance(event, SessionStarted):
        known = await connection.execute(
            select(sessions.c.session_id).where(sessions.c.session_id == event.session_id)
        )
        if known.first() is not None:
            # Told again (an OCPP CSMS restarted and restored it): kept once.
            return
        await connection.execute(
            sessions.insert().values(
                session_id=event.session_id,
                evse_id=event.evse_id,
                ev_id=event.ev_id,
                protocol=event.protocol,
                started_at=event.at,
            )
        )
    elif isinstance(event, SessionEnded):
        await connection.execute(
            update(sessions)
            .where(sessions.c.session_id == event.session_id)
            .values(ended_at=event.at, end_reason=event.reason)
        )
    elif isinstance(event, NeedsReported | LimitsReported):
        column, value = (
            ("needs", event.needs)
            if isinstance(event, NeedsReported)
            else ("limits", event.ev_limits)
        )
        await connection.execute(
            update(sessions)
            .where(sessions.c.session_id == event.session_id)
            .values({column: _plain(value)})
        )
    elif isinstance(event, PowerMeasured):
        await connection.execute(
            meter_values.insert().values(
                session_id=event.session_id,
                at=event.at,
                power_w=event.power_w,
                soc_percent=event.soc_percent,
            )
        )


def _plain(value: ChargeNeeds | TransferLimits) -> dict[str, Any]:
    """``value`` as JSON: its fields, times as ISO 8601."""
    plain: dict[str, Any] = json.loads(json.dumps(asdict(value), default=datetime.isoformat))
    return plain


def _needs(plain: Mapping[str, Any]) -> ChargeNeeds:
    times = {k: None if plain[k] is None else datetime.fromisoformat(plain[k]) for k in _TIMES}
    return ChargeNeeds(**{**plain, **times})


_TIMES = ("reported_at", "departure")


def _limits(plain: Mapping[str, Any]) -> TransferLimits:
    discharge = plain.get("discharge")
    return TransferLimits(
        **{**plain, "discharge": None if discharge is None else DischargeLimits(**discharge)}
    )


def _rebuilt(row: Any, last: Any) -> list[SessionEvent]:
    """The events that rebuild open session ``row`` in a fleet (``last``: its last
    meter value, or None)."""
    at = aware(row.started_at)
    found: list[SessionEvent] = [
        SessionStarted(row.evse_id, row.session_id, at, row.ev_id, row.protocol or "")
    ]
    if row.limits is not None:
        found.append(LimitsReported(row.evse_id, row.session_id, at, _limits(row.limits)))
    if row.needs is not None:
        needs = _needs(row.needs)
        found.append(NeedsReported(row.evse_id, row.session_id, needs.reported_at, needs))
    if last is not None:
        found.append(
            PowerMeasured(
                row.evse_id, row.session_id, aware(last.at), float(last.power_w), last.soc_percent
            )
        )
    return found
