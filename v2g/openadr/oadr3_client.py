"""OpenADR 3 client (REST/JSON on aiohttp): programs and events by polling and by
subscription webhooks, OAuth2 client-credentials tokens, M&V reports.

A VTN that cannot be reached changes nothing the aggregator knows: the events already
accepted stay, the client retries with exponential backoff, and ``health`` says so.
An event the VTN no longer lists (or DELETEs by webhook) is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from v2g.aggregator.intake import DemandResponseIntake
from v2g.clock import Clock
from v2g.demand_response import InvalidEvent, Outcome
from v2g.forecast.offer import REPORTED_CONFIDENCES, DayAheadOffers, Offer, hourly_table
from v2g.openadr.oadr3_model import revision, translate_event
from v2g.openadr.oadr3_token import VERSIONS, TokenError, TokenSource
from v2g.openadr.signals import SignalMapping, UnsupportedSignal, channel_id, in_channel

logger = logging.getLogger(__name__)

CHANNEL = "openadr3"


@dataclass(frozen=True, slots=True)
class Oadr3Config:
    """Where the VTN is, who we are to it, and how often to ask.

    ``programs``: program names to follow (empty: every program the VTN shows us).
    ``version``: the VTN's OpenADR version, "3.0.1" or "3.1.0" (None: "3.1.0" when the
    base URL ends in ``/3.1.0``, else "3.0.1"); it decides how the token endpoint is
    found and how subscription operations are named.
    """

    base_url: str
    client_id: str
    client_secret: str
    client_name: str = "v2g-aggregator"
    programs: tuple[str, ...] = ()
    poll_interval_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    token_url: str | None = None
    mapping: SignalMapping = field(default_factory=SignalMapping)
    version: str | None = None

    def __post_init__(self) -> None:
        if self.version is not None and self.version not in VERSIONS:
            raise ValueError(f"version {self.version!r}: expected one of {', '.join(VERSIONS)}")
        if not self.poll_interval_s > 0:
            raise ValueError(f"poll_interval_s must be > 0 s, got {self.poll_interval_s}")

    @property
    def spec_version(self) -> str:
        """The VTN's OpenADR version (configured, or read from the base URL)."""
        if self.version is not None:
            return self.version
        return "3.1.0" if self.base_url.rstrip("/").endswith("/3.1.0") else "3.0.1"


#: Subscription operations per version: 3.0.1 names HTTP methods (YAML
#: ``subscription.objectOperations.operations``: GET, POST, PUT, DELETE); 3.1.0 names
#: CRUD operations. We follow creations, updates and deletions of events.
OPERATIONS = {
    "3.0.1": ("POST", "PUT", "DELETE"),
    "3.1.0": ("CREATE", "UPDATE", "DELETE"),
}


@dataclass(frozen=True, slots=True)
class Oadr3Health:
    """How the link to the VTN is doing, for the operator."""

    reachable: bool
    last_success_at: datetime | None
    failures: int
    last_error: str
    retry_in_s: float
    events_kept: int
    report_error: str = ""

    def notes(self) -> list[str]:
        """What the operator must know (for ``/api/v1/health``): nothing while well."""
        notes = [] if self.reachable else [f"OpenADR 3 {self.summary}"]
        return notes + ([f"OpenADR 3 {self.report_error}"] if self.report_error else [])

    @property
    def summary(self) -> str:
        if self.reachable:
            return f"VTN reachable; {self.events_kept} events followed"
        return (
            f"VTN unreachable or refusing ({self.failures} failures, last: "
            f"{self.last_error}); keeping {self.events_kept} events, retrying in "
            f"{self.retry_in_s:g} s"
        )


def backoff_s(failures: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling, capped."""
    if failures <= 0:
        return 0.0
    return float(min(max_s, base_s * 2 ** (failures - 1)))


class VtnUnavailable(RuntimeError):
    """The VTN could not be reached or answered with an error."""


class Oadr3Client:
    """Follows one VTN's events into one DR intake."""

    def __init__(
        self,
        config: Oadr3Config,
        intake: DemandResponseIntake,
        clock: Clock,
        session: aiohttp.ClientSession,
        offers: DayAheadOffers | None = None,
    ) -> None:
        self.config = config
        self._offers = offers
        #: Per VTN event asking for the day-ahead offer: the revision answered.
        self._offered: dict[str, str] = {}
        self._intake = intake
        self._clock = clock
        self._session = session
        self._tokens = TokenSource(
            session,
            config.base_url,
            config.client_id,
            config.client_secret,
            clock,
            config.token_url,
            config.spec_version,
        )
        self._base = config.base_url.rstrip("/")
        self._revisions: dict[str, int] = {}
        self._sub_ids: dict[str, tuple[str, ...]] = {}
        self._programs: dict[str, str] = {}
        self._report_error = ""
        self._failures = 0
        self._last_error = ""
        self._last_success: datetime | None = None
        self._last_poll: datetime | None = None
        #: Subscription ids the VTN gave us (webhooks on), for the health resource.
        self.subscriptions: tuple[str, ...] = ()
        self.webhook_token = secrets.token_urlsafe(24)
        self.rejections: dict[str, str] = {}
        #: The latest answer per VTN event id ("... held", "... accepted", a refusal).
        self.answers: dict[str, str] = {}
        intake.watch(CHANNEL, self.notes, self.link_status)

    @property
    def tokens(self) -> TokenSource:
        return self._tokens

    def notes(self) -> list[str]:
        """This link's troubles now, for the health resource (empty while well)."""
        return self.health.notes()

    def link_status(self) -> dict[str, object]:
        """The link to the VTN for the health resource: connected (the last poll went
        well), the last poll, and the last error with the VTN's own detail."""
        health = self.health
        return {
            "version": self.config.spec_version,
            "vtn_url": self.config.base_url,
            "connected": health.reachable and self._last_success is not None,
            "last_poll_at": None if self._last_poll is None else self._last_poll.isoformat(),
            "last_success_at": (
                None if health.last_success_at is None else health.last_success_at.isoformat()
            ),
            "failures": health.failures,
            "last_error": health.last_error or None,
            "report_error": health.report_error or None,
            "retry_in_s": health.retry_in_s,
            "events_followed": health.events_kept,
            "subscriptions": list(self.subscriptions),
        }

    @property
    def health(self) -> Oadr3Health:
        return Oadr3Health(
            reachable=self._failures == 0,
            last_success_at=self._last_success,
            failures=self._failures,
            last_error=self._last_error,
            retry_in_s=backoff_s(
                self._failures, self.config.backoff_base_s, self.config.backoff_max_s
            ),
            events_kept=len(self._sub_ids),
            report_error=self._report_error,
        )

    # -- HTTP -----------------------------------------------------------------------

    async def _request(self, method: str, path: str, body: object = None) -> Any:
        """One authorised call; a 401 renews the token and tries once more. An error
        answer raises VtnUnavailable with the VTN's own detail (problem+json)."""
        for attempt in range(2):
            try:
                token = await self._tokens.token()
                headers = {"Authorization": f"Bearer {token}"}
                async with self._session.request(
                    method, f"{self._base}{path}", json=body, headers=headers
                ) as response:
                    if response.status == 401 and attempt == 0:
                        self._tokens.invalidate()
                        continue
                    text = await response.text()
                    if response.status >= 400:
                        raise VtnUnavailable(
                            f"{method} {path} answered {response.status}: {problem_detail(text)}"
                        )
                    return json.loads(text) if text else None
            except (aiohttp.ClientError, TimeoutError, TokenError, ValueError) as error:
                raise VtnUnavailable(
                    f"{method} {path}: {type(error).__name__}: {error}"
                ) from error
        raise VtnUnavailable(f"{method} {path}: token refused twice")

    def resume(self, dr_event_ids: list[str]) -> None:
        """Follow again the DR events this channel handed in before a restart (ids as
        stored, ``id`` or ``id#k``): the next successful poll cancels those the VTN
        deleted meanwhile, and keeps the others."""
        prefix = channel_id(CHANNEL, "")
        for dr_event_id in dr_event_ids:
            # Ids stored before ids had channels carry no prefix.
            vtn_id = dr_event_id.removeprefix(prefix).split("#", 1)[0]
            self._sub_ids[vtn_id] = (*self._sub_ids.get(vtn_id, ()), dr_event_id)

    async def catch_up(self, dr_event_ids: list[str]) -> bool:
        """At start-up, before the aggregator's first cycle: follow again what this
        channel handed in before (``resume``) and poll once, so an event the VTN
        deleted while we were down is cancelled before any plan executes it, and an
        event we hold is answered "held". False (health says why) when the VTN
        cannot be asked now: the run loop retries, and the stored events stand."""
        self.resume(dr_event_ids)
        return await self.poll_once()

    # -- polling --------------------------------------------------------------------

    async def poll_once(self) -> bool:
        """Fetch programs and events once; False (logged, and health says why) on
        failure of any kind: the client never stops following over one bad poll."""
        self._last_poll = self._clock.now()
        try:
            await self._poll()
        except Exception as error:  # any failure: logged with its detail, then retried
            self._failed(error)
            return False
        self._failures = 0
        self._last_error = ""
        self._last_success = self._clock.now()
        return True

    async def _poll(self) -> None:
        programs = await self._request("GET", "/programs")
        names = self.config.programs
        wanted = [p for p in programs if not names or p.get("programName") in names]
        events: list[Mapping[str, Any]] = []
        for program in wanted:
            events += await self._request("GET", f"/events?programID={program['id']}")
        listed = set()
        for event in events:
            listed.add(str(event.get("id")))
            await self.take(event)
            await self._offer_if_asked(event)
        for gone in set(self._sub_ids) - listed:
            await self.drop(gone)
        await self._report()

    def _failed(self, error: Exception) -> None:
        self._failures += 1
        detail = str(error) if isinstance(error, VtnUnavailable) else repr(error)
        self._last_error = detail[:500]
        if isinstance(error, VtnUnavailable):
            logger.warning("OpenADR 3 VTN: %s", self.health.summary)
        else:
            logger.error("OpenADR 3 poll failed: %s", self.health.summary, exc_info=error)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``: every poll interval, or after a backoff when failing."""
        while not stop.is_set():
            await self.poll_once()
            wait = self.health.retry_in_s or self.config.poll_interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    # -- events ---------------------------------------------------------------------

    async def take(self, event: Mapping[str, Any]) -> Outcome:
        """Hand one VTN event to the intake (a revision seen before is skipped)."""
        outcome = await self._take(event)
        self.answers[str(event.get("id"))] = outcome.reason
        return outcome

    async def _take(self, event: Mapping[str, Any]) -> Outcome:
        event_id = str(event.get("id"))
        try:
            if self._revisions.get(event_id) == revision(event):
                return Outcome(True, f"event {event_id} unchanged")
            translation = in_channel(translate_event(event, self.config.mapping), CHANNEL)
        except (InvalidEvent, UnsupportedSignal) as error:
            self.rejections[event_id] = str(error)
            logger.warning("OpenADR 3 event %s refused: %s", event_id, error)
            return Outcome(False, str(error))
        if translation.prices:
            outcome = await self._intake.receive_prices(translation.prices, CHANNEL)
            if not outcome.accepted:
                logger.warning("OpenADR 3 prices of %s refused: %s", event_id, outcome.reason)
                return outcome
        reasons = []
        for dr_event in translation.events:
            if self._intake.holds(dr_event):
                reasons.append(f"event {dr_event.id} rev {dr_event.modification_number} held")
                continue
            outcome = await self._intake.receive(dr_event, CHANNEL)
            if not outcome.accepted:
                # Not recorded as taken: the next poll or notification tries again.
                self.rejections[event_id] = outcome.reason
                logger.warning("OpenADR 3 event %s refused: %s", event_id, outcome.reason)
                return outcome
            reasons.append(outcome.reason)
        self._revisions[event_id] = translation.modification_number
        taken = tuple(e.id for e in translation.events)
        # What this event asked before and asks no more (an interval the revision
        # dropped, or an id stored before ids had channels) stops now.
        for stale in set(self._sub_ids.get(event_id, ())) - set(taken):
            reasons.append((await self._intake.cancel(stale)).reason)
        self._sub_ids[event_id] = taken
        if isinstance(event.get("programID"), str):
            self._programs[event_id] = event["programID"]
        return Outcome(True, "; ".join(reasons) or "prices taken")

    async def drop(self, event_id: str) -> Outcome:
        """The VTN deleted ``event_id``: stop it at once."""
        ids = self._intake.parts_of(channel_id(CHANNEL, event_id))
        ids += [i for i in self._sub_ids.pop(event_id, ()) if i not in ids]  # stored bare
        self._revisions.pop(event_id, None)
        self._programs.pop(event_id, None)
        reasons = [(await self._intake.cancel(sub_id)).reason for sub_id in ids]
        return Outcome(True, "; ".join(reasons) or f"event {event_id} was not followed")

    # -- subscriptions (webhooks) ---------------------------------------------------

    async def subscribe(self, callback_url: str) -> tuple[str, ...]:
        """Ask the VTN to POST event changes to ``callback_url``: one 3.0.1
        Subscription per followed program (``programID`` is required); the VTN must
        present ``webhook_token`` as its bearer token. Returns the subscription ids."""
        programs = await self._request("GET", "/programs")
        names = self.config.programs
        ids = []
        for program in programs:
            if names and program.get("programName") not in names:
                continue
            body = subscription(
                self.config.client_name,
                str(program["id"]),
                callback_url,
                self.webhook_token,
                OPERATIONS[self.config.spec_version],
            )
            created = await self._request("POST", "/subscriptions", body)
            ids.append(str(created["id"]))
        if not ids:
            raise VtnUnavailable(f"no program to subscribe to (following {names or 'all'})")
        self.subscriptions = tuple(ids)
        return self.subscriptions

    async def notification(self, body: object, authorization: str | None) -> tuple[int, str]:
        """One webhook notification -> (HTTP status, reason for the VTN)."""
        if not secrets.compare_digest(authorization or "", f"Bearer {self.webhook_token}"):
            return 401, "notification refused: missing or wrong bearer token"
        if not isinstance(body, Mapping) or body.get("objectType") != "EVENT":
            return 400, "notification refused: expected objectType EVENT"
        event = body.get("object")
        if not isinstance(event, Mapping):
            return 400, "notification refused: no event object"
        if isinstance(event.get("id"), str) and isinstance(event.get("programID"), str):
            self._programs[event["id"]] = event["programID"]
        if body.get("operation") == "DELETE":
            outcome = await self.drop(str(event.get("id")))
        else:
            outcome = await self.take(event)
        return (200 if outcome.accepted else 400), outcome.reason

    def webhook_app(self, path: str = "/openadr3/notifications") -> web.Application:
        """An aiohttp app receiving this client's notifications at ``path``."""

        async def receive(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                return _problem(400, "notification refused: body is not JSON")
            try:
                status, reason = await self.notification(
                    body, request.headers.get("Authorization")
                )
            except Exception as error:  # logged and in health; the VTN hears 500
                self._failed(error)
                return _problem(500, f"notification not handled: {type(error).__name__}")
            if status != 200:
                return _problem(status, reason)
            return web.json_response({"detail": reason})

        app = web.Application()
        app.router.add_post(path, receive)
        return app

    # -- reports --------------------------------------------------------------------

    async def _report(self) -> None:
        """M&V to the VTN: one report per followed event with energy asked and
        delivered (Wh) so far (3.0.1 Report; private payload types, spec allows them)."""
        for event_id, sub_ids in self._sub_ids.items():
            found = [self._intake.measurement(s) for s in sub_ids]
            measured = [m for m in found if m is not None]
            if not measured:
                continue
            asked = sum(float(str(m["asked_wh"])) for m in measured)
            delivered = sum(float(str(m["delivered_wh"])) for m in measured)
            try:
                program_id = await self._program_of(event_id)
                body = report(
                    self.config.client_name,
                    program_id,
                    event_id,
                    asked,
                    delivered,
                    metered_payloads(measured),
                )
                await self._request("POST", "/reports", body)
            except VtnUnavailable as error:
                self._report_error = f"report for {event_id} not sent: {error}"[:500]
                logger.warning("OpenADR 3 %s", self._report_error)
            else:
                self._report_error = ""

    async def _offer_if_asked(self, event: Mapping[str, Any]) -> None:
        """An event whose ``reportDescriptors`` ask for an offer payload type gets one
        report per revision: the day-ahead offer for each hour of tomorrow (UTC)."""
        event_id, program_id = str(event.get("id")), event.get("programID")
        asked = [d.get("payloadType") for d in event.get("reportDescriptors") or []]
        seen = str(event.get("modificationDateTime"))
        if self._offers is None or not set(asked) & set(OFFER_PAYLOADS):
            return
        if self._offered.get(event_id) == seen or not isinstance(program_id, str):
            return
        now = self._clock.now()
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        try:
            hours = {c: await self._offers.hourly(tomorrow, c) for c in REPORTED_CONFIDENCES}
            body = offer_report(self.config.client_name, program_id, event_id, hours)
            await self._request("POST", "/reports", body)
        except Exception as error:  # the next poll tries again; health says why
            self._report_error = f"offer report for {event_id} not sent: {error}"[:500]
            logger.warning("OpenADR 3 %s", self._report_error)
            return
        self._offered[event_id] = seen

    async def _program_of(self, event_id: str) -> str:
        """The program of ``event_id`` (3.0.1 Report requires programID): as the event
        said, else as the VTN says now (an event followed again after a restart)."""
        if event_id not in self._programs:
            event = await self._request("GET", f"/events/{event_id}")
            program = event.get("programID") if isinstance(event, Mapping) else None
            if not isinstance(program, str):
                raise VtnUnavailable(f"GET /events/{event_id} gave no programID")
            self._programs[event_id] = program
        return self._programs[event_id]


def subscription(
    client_name: str,
    program_id: str,
    callback_url: str,
    bearer_token: str,
    operations: tuple[str, ...],
) -> dict[str, Any]:
    """A 3.0.1 ``subscription`` to the events of one program."""
    return {
        "clientName": client_name,
        "programID": program_id,
        "objectOperations": [
            {
                "objects": ["EVENT"],
                "operations": list(operations),
                "callbackUrl": callback_url,
                "bearerToken": bearer_token,
            }
        ],
    }


#: Metered M&V in the report (private payload types): the key of the metered
#: document (``v2g.demand_response.metering``) each one sums.
METERED_PAYLOADS = {
    "X_DR_DELIVERED_METERED_WH": ("delivered_metered_wh",),
    "X_DR_SHORTFALL_WH": ("shortfall_wh",),
    "X_DR_BASELINE_PLAN_WH": ("baseline", "plan", "energy_wh"),
    "X_DR_BASELINE_METER_WH": ("baseline", "meter", "energy_wh"),
}


def metered_payloads(measured: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """The metered figures of an event's parts, summed, by payload type (a figure
    missing in any part, e.g. no meter baseline yet, is left out)."""
    found = [m.get("measured") for m in measured]
    if not found or not all(isinstance(m, Mapping) for m in found):
        return {}
    payloads = {}
    for payload, path in METERED_PAYLOADS.items():
        values = []
        for metered in found:
            value: object = metered
            for key in path:
                value = value.get(key) if isinstance(value, Mapping) else None
            values.append(value)
        if all(isinstance(v, int | float) for v in values):
            payloads[payload] = sum(float(str(v)) for v in values)
    return payloads


def report(
    client_name: str,
    program_id: str,
    event_id: str,
    asked_wh: float,
    delivered_wh: float,
    metered: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A 3.0.1 ``report`` (programID, eventID, clientName, resources all required) of
    the energy asked and delivered for one event so far (Wh; private payload types,
    which the spec allows), and what the meters saw (``metered_payloads``)."""
    extra = [{"type": k, "values": [round(v, 3)]} for k, v in (metered or {}).items()]
    return {
        "programID": program_id,
        "eventID": event_id,
        "clientName": client_name,
        "reportName": f"v2g M&V {event_id}",
        "resources": [
            {
                "resourceName": "AGGREGATED_REPORT",
                "intervals": [
                    {
                        "id": 0,
                        "payloads": [
                            {"type": "X_DR_ASKED_WH", "values": [round(asked_wh, 3)]},
                            {"type": "X_DR_DELIVERED_WH", "values": [round(delivered_wh, 3)]},
                            *extra,
                        ],
                    }
                ],
            }
        ],
    }


#: The day-ahead offer's private payload types (what, confidence); a VTN asks for them
#: in an event's ``reportDescriptors``.
OFFER_PAYLOADS = {
    "X_OFFER_EXPORT_P50_W": ("export_w", 0.5),
    "X_OFFER_EXPORT_P90_W": ("export_w", 0.9),
    "X_OFFER_SHED_P50_W": ("shed_w", 0.5),
    "X_OFFER_SHED_P90_W": ("shed_w", 0.9),
}


def offer_report(
    client_name: str, program_id: str, event_id: str, hours: dict[float, list[Offer]]
) -> dict[str, Any]:
    """A 3.0.1 ``report`` of the day-ahead offer: one interval per hour (its own
    ``intervalPeriod``), each with the four offer payloads (W, held through the hour)."""
    table = hourly_table(hours)
    starts = [start for start, _ in table[("export_w", REPORTED_CONFIDENCES[0])]]
    intervals = [
        {
            "id": k,
            "intervalPeriod": {"start": start.isoformat(), "duration": "PT1H"},
            "payloads": [
                {"type": name, "values": [round(table[key][k][1], 1)]}
                for name, key in OFFER_PAYLOADS.items()
            ],
        }
        for k, start in enumerate(starts)
    ]
    return {
        "programID": program_id,
        "eventID": event_id,
        "clientName": client_name,
        "reportName": f"v2g day-ahead offer {event_id}",
        "resources": [{"resourceName": "AGGREGATED_REPORT", "intervals": intervals}],
    }


def problem_detail(text: str) -> str:
    """The reason in a VTN's error body: problem+json ``title: detail``, an OAuth
    ``error``, or the text itself (cut to 300 characters)."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300] or "(no body)"
    if not isinstance(body, dict):
        return text[:300]
    parts = [
        str(body[k]) for k in ("title", "detail", "error", "error_description") if body.get(k)
    ]
    return ": ".join(parts)[:300] or text[:300]


def _problem(status: int, detail: str) -> web.Response:
    return web.json_response(
        {"title": "notification refused", "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )
