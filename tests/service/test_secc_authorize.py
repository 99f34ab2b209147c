"""The in-process SECC's sessions decided by the site's drivers (``[secc] authorize``):
the controller's ``is_authorized`` wrapped as ``v2g serve`` wraps it, answered from a
real SQLite driver store. A refusal is audited with its reason and door ``secc``; an
accepted session is linked to its driver; a store that cannot be read leaves the
station's own answer standing (nothing hangs, nothing is lost)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from iso15118.secc.controller.interface import AuthorizationResponse
from iso15118.shared.messages.enums import AuthorizationStatus
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from v2g.config import ConfigError
from v2g.drivers import BOOKED, USED, IdTokenRecord, ReservationRequest
from v2g.ocpp.station_authorize import StationAuthorization
from v2g.service.config import parse_site_config
from v2g.service.secc_authorize import DriverSessions
from v2g.store import open_store, sqlite_url
from v2g.store.drivers import SqlDriverStore
from v2g.store.schema import session_drivers
from v2g.testing import FakeClock
from v2g.testing.evse_controllers import AuthorizingController

NOW = datetime(2030, 7, 1, 18, tzinfo=UTC)
ADA_CAR = "0A:1B:2C:3D:4E:5F"
BLOCKED_CAR = "00:11:22:33:44:55"
STRANGER = "66:77:88:99:AA:BB"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    drivers = SqlDriverStore(engine)
    await drivers.create("ada", "Ada", NOW)
    await drivers.put_token(IdTokenRecord("MacAddress", "0A1B2C3D4E5F", "ada", NOW))
    await drivers.create("bob", "Bob", NOW)
    await drivers.put_token(IdTokenRecord("MacAddress", "001122334455", "bob", NOW, blocked=True))
    yield engine
    await engine.dispose()


async def settled(controller: AuthorizingController) -> AuthorizationResponse:
    """Asks as the EV does, again while the answer is Ongoing."""
    for _ in range(50):
        answer: AuthorizationResponse = await controller.is_authorized()
        if answer.authorization_status is not AuthorizationStatus.ONGOING:
            return answer
    raise AssertionError("still Ongoing")


def guarded(sessions: DriverSessions, evse_id: str, ev_id: str) -> AuthorizingController:
    controller = AuthorizingController(evse_id)
    controller.begin(ev_id)
    StationAuthorization(sessions, wait_s=1.0, asked="site's drivers").guard(controller)
    return controller


async def test_eim_is_decided_by_the_drivers_token_and_refusals_are_audited(engine):
    drivers = SqlDriverStore(engine)
    sessions = DriverSessions(drivers, FakeClock(NOW))
    answers = {
        ev: (await settled(guarded(sessions, f"E-{i}", ev))).authorization_status
        for i, ev in enumerate((ADA_CAR, BLOCKED_CAR, STRANGER))
    }

    assert answers == {
        ADA_CAR: AuthorizationStatus.ACCEPTED,
        BLOCKED_CAR: AuthorizationStatus.REJECTED,
        STRANGER: AuthorizationStatus.REJECTED,
    }
    refusals = {r["value"]: r for r in await drivers.refusals()}
    assert refusals["001122334455"]["reason"] == "token blocked (driver bob)"
    assert refusals["001122334455"]["door"] == "secc"
    assert refusals["001122334455"]["evse_id"] == "E-1"
    assert refusals["66778899AABB"]["reason"] == "token unknown: no driver holds it"
    assert "0A1B2C3D4E5F" not in refusals
    async with engine.connect() as connection:
        linked = (await connection.execute(select(session_drivers))).mappings().all()
    assert [(row["session_id"], row["driver_id"]) for row in linked] == [("s-E-0", "ada")]


async def book(drivers: SqlDriverStore, driver_id: str, evse_id: str, start: datetime) -> str:
    request = ReservationRequest(
        driver_id,
        evse_id,
        start,
        start + timedelta(hours=2),
        start + timedelta(hours=2),
        20e3,
        False,
    )
    booking = await drivers.book(request, [evse_id], start - timedelta(hours=1))
    return booking.reservation_id


async def test_at_a_booked_evse_only_the_bookings_driver_charges(engine):
    drivers = SqlDriverStore(engine)
    await drivers.create("cyd", "Cyd", NOW)
    await drivers.put_token(IdTokenRecord("MacAddress", "CAFE00000001", "cyd", NOW))
    booked = await book(drivers, "cyd", "E-9", NOW - timedelta(minutes=5))
    sessions = DriverSessions(drivers, FakeClock(NOW))

    ada = await settled(guarded(sessions, "E-9", ADA_CAR))
    assert ada.authorization_status is AuthorizationStatus.REJECTED
    refusal = (await drivers.refusals())[0]
    assert (refusal["status"], refusal["driver_id"], refusal["evse_id"]) == (
        "NotAtThisTime",
        "ada",
        "E-9",
    )
    assert refusal["reason"].startswith("E-9 is booked by another driver until")
    assert (await drivers.reservation(booked)).status == BOOKED  # Ada's try changed nothing

    cyd = await settled(guarded(sessions, "E-9", "CA:FE:00:00:00:01"))
    assert cyd.authorization_status is AuthorizationStatus.ACCEPTED
    assert (await drivers.reservation(booked)).status == USED


async def test_a_booking_nobody_came_for_no_longer_holds_its_evse(engine):
    drivers = SqlDriverStore(engine)
    await drivers.create("cyd", "Cyd", NOW)
    await book(drivers, "cyd", "E-9", NOW - timedelta(minutes=20))  # grace: 15 min
    sessions = DriverSessions(drivers, FakeClock(NOW))

    ada = await settled(guarded(sessions, "E-9", ADA_CAR))
    assert ada.authorization_status is AuthorizationStatus.ACCEPTED


async def test_before_session_setup_there_is_nothing_to_decide(engine):
    sessions = DriverSessions(SqlDriverStore(engine), FakeClock(NOW))
    controller = guarded(sessions, "E-1", BLOCKED_CAR)
    controller.session = None

    assert (await controller.is_authorized()).authorization_status is (
        AuthorizationStatus.ACCEPTED
    )
    assert await SqlDriverStore(engine).refusals() == []


async def test_a_store_that_cannot_be_read_leaves_the_stations_answer_and_loses_nothing(
    engine,
):
    drivers = SqlDriverStore(engine)
    before = await drivers.refusals()
    broken = create_async_engine("sqlite+aiosqlite:////nonexistent-dir/v2g.db")
    sessions = DriverSessions(SqlDriverStore(broken), FakeClock(NOW))

    answer = await settled(guarded(sessions, "E-1", BLOCKED_CAR))

    assert answer.authorization_status is AuthorizationStatus.ACCEPTED
    assert await drivers.refusals() == before
    await broken.dispose()


def test_authorize_without_an_secc_is_a_configuration_error():
    with pytest.raises(ConfigError) as error:
        parse_site_config({"secc": {"authorize": True}}, Path("."))
    assert "secc.authorize: needs secc.config" in str(error.value)
