"""M&V results in the store: one row per DR event, its latest measurement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from v2g.demand_response.measurement import Measurement
from v2g.store.schema import dr_measurements


class SqlMeasurementStore:
    """Keeps each event's measurement so a restart goes on accumulating."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def save(self, measurement: Measurement, at: datetime) -> None:
        body = measurement.as_dict()
        async with self._engine.begin() as connection:
            found = await connection.execute(
                update(dr_measurements)
                .where(dr_measurements.c.event_id == measurement.event_id)
                .values(body=body, updated_at=at)
            )
            if found.rowcount == 0:
                await connection.execute(
                    dr_measurements.insert().values(
                        event_id=measurement.event_id, body=body, updated_at=at
                    )
                )

    async def all(self) -> list[Measurement]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(dr_measurements.c.body))).all()
        return [_measurement(body) for (body,) in rows]


def _measurement(body: dict[str, object]) -> Measurement:
    last_at = body.get("last_at")
    return Measurement(
        event_id=str(body["event_id"]),
        modification_number=int(str(body["modification_number"])),
        kind=str(body["kind"]),
        asked_wh=float(str(body["asked_wh"])),
        delivered_wh=float(str(body["delivered_wh"])),
        last_at=None if last_at is None else datetime.fromisoformat(str(last_at)),
        asked_w=float(str(body["asked_w"])),
        delivered_w=float(str(body["delivered_w"])),
        observations=int(str(body["observations"])),
        # Stored before the baseline was kept: 0 (the metered M&V says so by its rule).
        baseline_wh=float(str(body.get("baseline_wh", 0.0))),
        baseline_w=float(str(body.get("baseline_w", 0.0))),
    )
