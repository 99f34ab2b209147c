"""OCPP Authorize from the site's drivers (OCPP 2.0.1 C01): a driver's token gets
that driver's decision, an unknown one the site's allow list; every refusal is
audited with its reason. ``v2g serve`` builds its CSMS with it (``ocpp_csms``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from v2g.drivers import IdTokenRecord
from v2g.ocpp.authorize import AllowList, IdToken
from v2g.service.driver_authorizer import DriverAuthorizer
from v2g.store import open_store, sqlite_url
from v2g.store.drivers import SqlDriverStore
from v2g.testing import FakeClock

NOW = datetime(2030, 7, 1, tzinfo=UTC)


async def test_drivers_tokens_decide_and_the_allow_list_covers_the_rest(tmp_path):
    engine = await open_store(sqlite_url(tmp_path / "v2g.db"))
    try:
        drivers = SqlDriverStore(engine)
        await drivers.create("d-1", "Ada", NOW)
        await drivers.put_token(IdTokenRecord("ISO14443", "04A1B2C3", "d-1", NOW))
        await drivers.put_token(
            IdTokenRecord("MacAddress", "0A1B2C3D4E5F", "d-1", NOW, blocked=True)
        )
        expired = IdTokenRecord("Central", "app-1", "d-1", NOW - timedelta(days=2), NOW)
        await drivers.put_token(expired)
        authorizer = DriverAuthorizer(drivers, AllowList(["site-card"]), FakeClock(NOW))
        asked = {
            "RFID of a driver (lower case)": IdToken("04a1b2c3", "ISO14443"),
            "EVCCID of a blocked car": IdToken("0a:1b:2c:3d:4e:5f", "MacAddress"),
            "expired app token": IdToken("app-1", "Central"),
            "site allow list": IdToken("site-card", "Local"),
            "nobody's": IdToken("FFFFFFFF", "ISO14443"),
            "malformed UID": IdToken("xyz", "ISO14443"),
        }
        answers = {name: await authorizer.status_of(t) for name, t in asked.items()}
        assert answers == {
            "RFID of a driver (lower case)": "Accepted",
            "EVCCID of a blocked car": "Blocked",
            "expired app token": "Expired",
            "site allow list": "Accepted",
            "nobody's": "Unknown",
            "malformed UID": "Unknown",  # not a driver's form; not in the allow list
        }
        refused = await drivers.refusals()
        assert sorted(r["status"] for r in refused) == ["Blocked", "Expired", "Unknown", "Unknown"]
        assert all(r["door"] == "ocpp" and r["reason"] for r in refused)
    finally:
        await engine.dispose()
