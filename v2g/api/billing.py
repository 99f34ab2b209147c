"""Tariffs (``GET``/``PUT /api/v1/tariffs``) and charge detail records
(``GET /api/v1/cdrs``, OCPI 2.2.1 CDR objects of the sessions that ended in a window).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from v2g.api import schemas, wire
from v2g.api.auth import HOLDER
from v2g.api.problem import Problem
from v2g.api.responses import document
from v2g.api.roles import DRIVER
from v2g.api.services import services
from v2g.api.usage import moment
from v2g.billing import Bill, Tariff, TariffError, ocpi_cdr
from v2g.billing.documents import bill_document, tariff_document, tariff_of
from v2g.billing.ocpi import DriverToken
from v2g.store import AuditEntry
from v2g.store.times import aware
from v2g.usage import SessionSpan

CDR_WINDOW = timedelta(days=31)
MAX_CDR_WINDOW = timedelta(days=92)


async def tariffs(request: web.Request) -> web.Response:
    in_force = await services(request).billing.tariffs.tariffs()
    return document({"tariffs": [tariff_document(t) for t in in_force]})


async def put_tariffs(request: web.Request) -> web.Response:
    """Replaces every tariff (the first is the site's default); all or nothing."""
    body = wire.plain(await wire.body(request, schemas.Tariffs))
    given = _tariffs(body["tariffs"])
    found = services(request)
    now = found.aggregator.clock.now()
    await found.billing.tariffs.replace(given, now)
    holder = request[HOLDER]
    await found.audit.record(
        AuditEntry(now, holder.token_id, holder.role, "put_tariffs", body, True, "in force")
    )
    return document({"tariffs": [tariff_document(t) for t in given]})


def _tariffs(items: list[dict[str, Any]]) -> list[Tariff]:
    """The domain's tariffs (its own checks: money, bands, zones), each refusal named."""
    given, errors = [], []
    for index, item in enumerate(items):
        try:
            given.append(tariff_of(item, f"tariffs[{index}]"))
        except TariffError as error:
            errors.append(str(error))
    ids = [t.tariff_id for t in given]
    errors += [f"tariffs: id {i!r} appears twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    if errors:
        raise wire.Invalid(errors)
    return given


async def cdrs(request: web.Request) -> web.Response:
    found = services(request)
    now = found.aggregator.clock.now()
    end = moment(request, "to") or now
    start = moment(request, "from") or end - CDR_WINDOW
    if not start < end or end - start > MAX_CDR_WINDOW:
        raise Problem(
            400, "Bad Request", f"from..to: from before to, at most {MAX_CDR_WINDOW.days} days"
        )
    await found.billing.sweep()  # sessions that ended since the last sweep
    frozen = await found.billing.bills.ended_between(start, end)
    operator = found.billing.terms.operator
    return document(
        {"cdrs": [ocpi_cdr(bill, tariff, operator, _token(bill), now) for bill, tariff in frozen]}
    )


def _token(bill: Bill) -> DriverToken:
    # Until drivers and their idTokens are known here, the session is the token.
    return DriverToken(bill.session_id[:36])


async def bill_view(request: web.Request, row: dict[str, Any]) -> dict[str, Any] | None:
    """The bill of the stored session ``row``: final once frozen, else the cost so
    far; None while no tariff is in force."""
    span = SessionSpan(
        row["session_id"],
        row["evse_id"],
        aware(row["started_at"]),
        None if row["ended_at"] is None else aware(row["ended_at"]),
    )
    billing = services(request).billing
    found = await billing.running_bill(span)
    if found is None:
        return None
    bill, _ = found
    final = await billing.bills.bill(span.session_id) is not None
    return bill_document(bill) | {"final": final}


async def driver_bills(request: web.Request) -> web.Response:
    """A driver's sessions: cost, V2G remuneration and how each was settled."""
    driver_id = request.match_info["driver_id"]
    holder = request[HOLDER]
    if holder.role == DRIVER and holder.driver_id != driver_id:
        raise Problem(403, "Forbidden", "a driver token sees its own driver only")
    found = services(request)
    await found.billing.sweep()
    settled = await found.billing.bills.of_driver(driver_id)
    return document(
        {"bills": [bill_document(bill) | {"ledger": entry} for bill, entry in settled]}
    )
