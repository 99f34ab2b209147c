"""What the API's handlers work with, held in the app under one typed key."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gridmodel import Network
from v2g.aggregator import Aggregator
from v2g.aggregator.arrivals import ArrivalLearning
from v2g.aggregator.base_load import BaseLoadLearning
from v2g.aggregator.bookings import BookedArrivals
from v2g.aggregator.intake import DemandResponseIntake
from v2g.aggregator.measurements import MeasurementLedger
from v2g.aggregator.metered import MeteredVerifier
from v2g.api.auth import TokenCheck
from v2g.api.feed import SnapshotFeed
from v2g.api.feeder import FeederProfile
from v2g.api.ratelimit import RateLimit, TokenBuckets
from v2g.drivers.reservations import StationAnswer
from v2g.store import (
    SqlAuditStore,
    SqlEventStore,
    SqlSessionStore,
    SqlTokenStore,
)
from v2g.store.base_load import SqlBaseLoadStore
from v2g.store.billing import BillingSweep, BillingTerms
from v2g.store.drivers import SqlDriverStore
from v2g.store.measurements import SqlMeasurementStore
from v2g.store.metering import SqlMeteredStore, SqlMeterReader
from v2g.store.station_records import SqlStationRecords

if TYPE_CHECKING:
    from v2g.ocpp.csms import Csms


class BookingsTold(Protocol):
    """The stations' answers about bookings (``v2g.service.station_reservations``)."""

    def answer(self, reservation_id: str) -> StationAnswer | None: ...

    def wake(self) -> None:
        """A booking was made or cancelled: tell its station now."""
        ...


@dataclass(frozen=True)
class Services:
    """The aggregator (commands go to it), the DR intake (the one door for events),
    the DR measurements (what each event delivered, kept in the store), the stores the
    API reads and writes, the token check and its rate limit, billing, drivers, the
    snapshot feed, and request counts by status (for /metrics)."""

    aggregator: Aggregator
    intake: DemandResponseIntake
    measurements: MeasurementLedger
    sessions: SqlSessionStore
    audit: SqlAuditStore
    tokens: TokenCheck
    feed: SnapshotFeed
    billing: BillingSweep
    drivers: SqlDriverStore
    stations: SqlStationRecords
    base_load: BaseLoadLearning
    #: The arrivals the session history foresees, for the planner.
    arrivals: ArrivalLearning
    #: The open bookings, as the planner's expected arrivals.
    booked: BookedArrivals
    base_load_readings: SqlBaseLoadStore
    buckets: TokenBuckets = field(default_factory=lambda: TokenBuckets(RateLimit()))
    responses: Counter[int] = field(default_factory=Counter)
    #: Metered M&V per DR event (what the meters saw), kept in the store.
    metered: MeteredVerifier | None = None
    #: The CSMS remote operations go through (None: the site has no ``[ocpp]``).
    csms: Csms | None = None
    #: What stations said of the bookings on their EVSEs (None: no ``[ocpp]``).
    bookings_told: BookingsTold | None = None
    #: The drivers' tokens sent to stations as local lists (None: no ``[ocpp]``).
    station_lists: StationLists | None = None


class StationLists(Protocol):
    """The stations' local lists (``v2g.service.station_local_lists``)."""

    def wake(self) -> None:
        """A token changed: send the stations the new list now."""
        ...


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def open_services(
    engine: AsyncEngine,
    aggregator: Aggregator,
    network: str | Network,
    events: SqlEventStore | None = None,
    rate: RateLimit | None = None,
    billing: BillingTerms | None = None,
    metered_every_s: float = 300.0,
) -> Services:
    """The API's services on ``engine``'s store, subscribed to ``aggregator``. Given a
    network (not just its name), the grid resource also shows every bus and branch.
    ``events``: the DR event store (with its retention), else one with the default;
    ``rate``: requests per token, else the default; ``billing``: chargers' tariffs and
    the CDR issuer, else the site default tariff and a placeholder issuer;
    ``metered_every_s``: how often a running event's metered M&V is measured again."""
    # Subscribed before the feed, so each snapshot's view shows the measurement
    # that already counts that snapshot. Call ``measurements.restore()`` before the
    # first cycle to go on from what was stored before a restart.
    ledger = MeasurementLedger(aggregator, SqlMeasurementStore(engine))
    if isinstance(network, str):
        feed = SnapshotFeed(network, measured=ledger.get, metered=ledger.metered)
    else:
        feed = SnapshotFeed(network.name, FeederProfile(network), ledger.get, ledger.metered)
    aggregator.subscribe(feed.publish)
    metered = MeteredVerifier(
        aggregator,
        ledger,
        SqlMeterReader(engine),
        SqlMeteredStore(engine),
        every_s=metered_every_s,
    )
    return Services(
        aggregator=aggregator,
        intake=DemandResponseIntake(aggregator, events or SqlEventStore(engine), ledger=ledger),
        measurements=ledger,
        sessions=SqlSessionStore(engine),
        audit=SqlAuditStore(engine),
        tokens=TokenCheck(SqlTokenStore(engine)),
        feed=feed,
        billing=BillingSweep(
            engine,
            billing or BillingTerms(),
            lambda: aggregator.state.prices,
            aggregator.clock.now,
        ),
        drivers=SqlDriverStore(engine),
        buckets=TokenBuckets(rate or RateLimit()),
        metered=metered,
        stations=SqlStationRecords(engine),
        base_load=BaseLoadLearning(SqlBaseLoadStore(engine), aggregator),
        arrivals=ArrivalLearning(SqlSessionStore(engine), aggregator),
        base_load_readings=SqlBaseLoadStore(engine),
        booked=BookedArrivals(SqlDriverStore(engine), aggregator),
    )


def provide(found: Services) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry that hands prepared services to the app."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[SERVICES] = found
        yield

    return context
