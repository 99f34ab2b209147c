"""OpenADR 2.0b VEN: the fleet as one Virtual End Node of a utility's VTN (openleadr).

The VEN registers, polls, hands every event through the translation in
``v2g.openadr.signals`` to the DR intake, opts in or out from the fleet envelope, and
answers the VTN's report requests with the fleet's power and flexibility. openleadr
does the XML, signatures and polling; this module only decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from openleadr import OpenADRClient

from v2g.aggregator.intake import DemandResponseIntake
from v2g.clock import Clock, SystemClock
from v2g.demand_response import DemandResponseEvent, InvalidEvent
from v2g.demand_response.assessment import Assessment, assess
from v2g.forecast.offer import REPORTED_CONFIDENCES, DayAheadOffers, Offer, hourly_table
from v2g.openadr.signals import (
    SignalMapping,
    Translation,
    UnsupportedSignal,
    channel_id,
    in_channel,
    translate_oadr2,
)

logger = logging.getLogger(__name__)

CHANNEL = "openadr2b"


@dataclass(frozen=True, slots=True)
class VenConfig:
    """How the VEN reaches its VTN.

    ``poll_interval_s`` replaces the VTN's requested poll frequency when shorter (DR
    latency is the poll interval). TLS (OpenADR 2.0b security, spec 10): a client
    certificate and key, the CA that signed the VTN's server certificate, and the
    VTN's certificate fingerprint to check message signatures against.
    """

    vtn_url: str
    ven_name: str
    ven_id: str | None = None
    poll_interval_s: float = 10.0
    cert_path: str | None = None
    key_path: str | None = None
    ca_file: str | None = None
    vtn_fingerprint: str | None = None
    check_hostname: bool = True
    min_delivery_fraction: float = 1.0
    report_sampling_s: float = 10.0
    mapping: SignalMapping = field(default_factory=SignalMapping)
    #: The confidence of the day-ahead offer that events past the plan's horizon are
    #: judged against (0.9: P90, reached on nine similar days out of ten).
    offer_confidence: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.poll_interval_s <= 3600:
            raise ValueError(
                f"poll_interval_s must be within (0, 3600], got {self.poll_interval_s}"
            )
        if not 0.5 <= self.offer_confidence < 1:
            raise ValueError(
                f"offer_confidence must be within [0.5, 1), got {self.offer_confidence}"
            )


#: The longest stretch past the plan's horizon judged by an offer (beyond: on trust).
OFFER_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Decision:
    """The VEN's answer to one event revision, with the reason sent to the VTN."""

    event_id: str
    modification_number: int
    opt_in: bool
    reason: str


#: The telemetry the VEN offers (OpenADR 2.0b TELEMETRY_USAGE, spec 9.2), by resource
#: id: fleet power now, how far it can move up and down, the baseline (the plan
#: without DR events) and, for M&V, the energy asked and delivered (Wh) summed over
#: the events this VEN took part in; from meter data (v2g.demand_response.metering),
#: the energy delivered and the shortfall against the ask. Powers in W, + = consuming
#: (as OpenADR load).
TELEMETRY = (
    "fleet_power_w",
    "flexibility_up_w",
    "flexibility_down_w",
    "baseline_w",
    "dr_asked_wh",
    "dr_delivered_wh",
    "dr_delivered_metered_wh",
    "dr_shortfall_wh",
)

#: The day-ahead offer, a report the VTN may ask for (reading type Projected): for each
#: hour of tomorrow (UTC), the power the fleet can export or shed through that hour
#: at P50 and P90 (v2g.forecast.offer), by resource id: (what, confidence).
OFFER_REPORT = "v2g-day-ahead-offer"
OFFER_RESOURCES = {
    "offer_export_p50_w": ("export_w", 0.5),
    "offer_export_p90_w": ("export_w", 0.9),
    "offer_shed_p50_w": ("shed_w", 0.5),
    "offer_shed_p90_w": ("shed_w", 0.9),
}
#: How long a computed day-ahead table is reused (48 one-hour offers: seconds of work).
OFFER_REFRESH = timedelta(minutes=15)
OfferTable = dict[str, list[tuple[datetime, float]]]


class Oadr2Ven:
    """One VEN bound to one intake. ``decisions`` holds the latest answer per event."""

    def __init__(
        self,
        config: VenConfig,
        intake: DemandResponseIntake,
        client_factory: Callable[..., OpenADRClient] = OpenADRClient,
        clock: Clock | None = None,
        offers: DayAheadOffers | None = None,
    ) -> None:
        self.config = config
        self._offers = offers
        self._intake = intake
        self._clock = clock or SystemClock()
        #: The link to the VTN: the last poll, the last exchange that went well, and
        #: the last failure with what the VTN said (for ``/api/v1/health``).
        self.last_poll_at: datetime | None = None
        self.last_contact_at: datetime | None = None
        self.last_error = ""
        self.failures = 0
        self._received = ""
        self.decisions: dict[str, Decision] = {}
        self.status = "not started"
        self._sub_ids: dict[str, tuple[str, ...]] = {}
        self._taken: set[str] = set()
        self._client = client_factory(
            ven_name=config.ven_name,
            vtn_url=config.vtn_url,
            ven_id=config.ven_id,
            cert=config.cert_path,
            key=config.key_path,
            ca_file=config.ca_file,
            vtn_fingerprint=config.vtn_fingerprint,
            check_hostname=config.check_hostname,
            show_fingerprint=False,
            # Without a certificate there is nothing to sign with.
            disable_signature=config.cert_path is None,
        )
        self.last_failure = ""
        intake.watch(CHANNEL, self.notes, self.link_status)
        self._watch_requests()
        self._client.add_handler("on_event", self.handle_event)
        self._client.add_handler("on_update_event", self.handle_event)
        sampling = timedelta(seconds=config.report_sampling_s)
        for resource in TELEMETRY:
            self._client.add_report(
                callback=self._telemetry_reader(resource),
                resource_id=resource,
                measurement="energy_real" if resource.endswith("_wh") else "real_power",
                unit="Wh" if resource.endswith("_wh") else "W",
                sampling_rate=sampling,
                report_duration=timedelta(hours=1),
                report_specifier_id="v2g-fleet-telemetry",
                r_id=resource,
            )
        if offers is not None:
            self._add_offer_reports(sampling)
        self._wrap_created_event()

    def _add_offer_reports(self, sampling: timedelta) -> None:
        self._offer_table: tuple[datetime, OfferTable] | None = None
        self._offer_lock = asyncio.Lock()
        for resource in OFFER_RESOURCES:
            self._client.add_report(
                callback=self._offer_reader(resource),
                resource_id=resource,
                measurement="real_power",
                unit="W",
                sampling_rate=sampling,
                report_duration=timedelta(days=1),
                report_specifier_id=OFFER_REPORT,
                r_id=resource,
                reading_type="Projected",
                report_type="upRegulationCapacityAvailable",
            )

    def _offer_reader(self, resource: str) -> Callable[[], Any]:
        async def read() -> list[tuple[datetime, float]]:
            return (await self.day_ahead_table()).get(resource, [])

        return read

    async def day_ahead_table(self) -> OfferTable:
        """Per offer resource, (hour of tomorrow, W): made at most every
        ``OFFER_REFRESH``; a failure keeps the last table (or none) and says so."""
        assert self._offers is not None
        async with self._offer_lock:
            now = self._clock.now()
            if self._offer_table and now - self._offer_table[0] < OFFER_REFRESH:
                return self._offer_table[1]
            tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            try:
                hours = {c: await self._offers.hourly(tomorrow, c) for c in REPORTED_CONFIDENCES}
                made = hourly_table(hours)
                table = {r: made[key] for r, key in OFFER_RESOURCES.items()}
            except Exception as error:  # the report goes on with what it had
                self.last_failure = f"day-ahead offer report failed: {error}"[:300]
                logger.exception("OpenADR 2.0b: day-ahead offer report")
                return self._offer_table[1] if self._offer_table else {}
            self._offer_table = (now, table)
            return table

    def notes(self) -> list[str]:
        """This VEN's troubles, for the health resource (empty while well): not
        registered with the VTN, or the last event whose handling failed."""
        trouble = self.status.startswith("not registered")
        notes = [f"OpenADR 2.0b: {self.status}"] if trouble else []
        if self.failures and not trouble:
            notes.append(f"OpenADR 2.0b: VTN failing ({self.failures}x): {self.last_error}")
        return notes + ([f"OpenADR 2.0b: {self.last_failure}"] if self.last_failure else [])

    def link_status(self) -> dict[str, object]:
        """The link to the VTN for the health resource: connected (registered and the
        last exchange went well), the last poll, and the last error with the VTN's
        own words."""
        return {
            "version": "2.0b",
            "vtn_url": self.config.vtn_url,
            "ven_id": self.ven_id,
            "registered": self.registered,
            "connected": self.registered and self.failures == 0,
            "status": self.status,
            "last_poll_at": _iso(self.last_poll_at),
            "last_contact_at": _iso(self.last_contact_at),
            "failures": self.failures,
            "last_error": self.last_error or None,
            "events_followed": len(self._sub_ids),
        }

    def _watch_requests(self) -> None:
        # openleadr logs a failed exchange and returns (None, {}): the VEN keeps what
        # the VTN sent back (the XML hook sees it before the status check) to say why.
        perform = self._client._perform_request

        def keep(content: str) -> None:
            self._received = content

        async def watched(service: str, message: Any) -> Any:
            self._received = ""
            result = await perform(service, message)
            self._note_exchange(service, result)
            return result

        self._client.add_hook("after_receive_xml", keep)
        self._client._perform_request = watched

    def _note_exchange(self, service: str, result: Any) -> None:
        now = self._clock.now()
        if service == "OadrPoll":
            self.last_poll_at = now
        payload = result[1] if isinstance(result, tuple) and len(result) == 2 else {}
        response = payload.get("response", {}) if isinstance(payload, Mapping) else {}
        code = response.get("response_code") if isinstance(response, Mapping) else None
        if isinstance(result, tuple) and result[0] is not None and code in (None, 200, "200"):
            self.last_contact_at = now
            self.failures = 0
            return
        if isinstance(result, tuple) and result[0] is not None:
            said = f"answered {code} {response.get('response_description', '')}".strip()
        elif self._received:
            said = f"answered: {' '.join(self._received.split())[:300]}"
        else:
            said = f"no answer from {self.config.vtn_url} (unreachable, or TLS refused)"
        self.failures += 1
        self.last_error = f"{service} at {now.isoformat()}: {said}"[:500]

    @property
    def ven_id(self) -> str | None:
        return self._client.ven_id  # type: ignore[no-any-return]

    @property
    def registered(self) -> bool:
        return self._client.registration_id is not None

    async def start(self) -> None:
        """Register, register reports, sync events and start polling. When the VTN
        does not register us, ``status`` says so (openleadr logs the cause: TLS,
        a signature or fingerprint that does not match, or a refusal)."""
        await self._client.run()
        if not self.registered:
            self.status = f"not registered with the VTN at {self.config.vtn_url}"
            logger.error("OpenADR 2.0b: %s", self.status)
            return
        self.status = f"registered as {self.ven_id}"
        self._reschedule_poll()

    async def stop(self) -> None:
        if self._client.client_session is not None:
            await self._client.stop()
        if self._offers is not None:
            # An offer being made finishes its store read before the store closes.
            async with self._offer_lock:
                pass

    async def run(self, stop: asyncio.Event, retry_s: float = 10.0) -> None:
        """Register (and then let openleadr poll) until ``stop``; a VTN that does not
        register us is asked again every ``retry_s`` (doubling up to 10 minutes)."""
        wait = retry_s
        while not stop.is_set():
            if not self.registered:
                # openleadr closes its session when registration fails; a new try
                # needs a new one.
                if self._client.client_session is not None:
                    await self._client.stop()
                    self._client.client_session = None
                await self.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            wait = retry_s if self.registered else min(wait * 2, 600.0)

    def _reschedule_poll(self) -> None:
        # openleadr polls at the VTN's requested frequency; the site's configured
        # interval wins when it is shorter (spec 8.6 lets the VEN poll more often).
        wanted = self.config.poll_interval_s
        requested = self._client.poll_frequency
        if requested is not None and requested.total_seconds() <= wanted:
            return
        for job in self._client.scheduler.get_jobs():
            if getattr(job.func, "__name__", "") == "_poll":
                job.reschedule(trigger="interval", seconds=wanted)

    # -- events ---------------------------------------------------------------------

    async def handle_event(self, event: Mapping[str, Any]) -> str:
        """openleadr's on_event and on_update_event: "optIn" or "optOut" (never raises)."""
        descriptor = event.get("event_descriptor", {})
        event_id = str(descriptor.get("event_id", "?"))
        revision = int(descriptor.get("modification_number", -1))
        try:
            opt_in, reason = await self._decide(event)
            self.last_failure = ""
        except Exception as error:  # any failure means opt out (issue 6)
            logger.exception("OpenADR event %s failed", event_id)
            opt_in, reason = False, f"handler failed: {type(error).__name__}: {error}"
            self.last_failure = f"event {event_id} rev {revision}: {reason}"[:500]
        self.decisions[event_id] = Decision(event_id, revision, opt_in, reason)
        logger.info("event %s rev %s: %s (%s)", event_id, revision, opt_in, reason)
        return "optIn" if opt_in else "optOut"

    async def _decide(self, event: Mapping[str, Any]) -> tuple[bool, str]:
        try:
            translation = in_channel(translate_oadr2(event, self.config.mapping), CHANNEL)
        except (UnsupportedSignal, InvalidEvent) as error:
            return False, str(error)
        held = [e for e in translation.events if self._intake.holds(e)]
        if held and len(held) == len(translation.events):
            # A VTN re-sending what we accepted before a restart: we keep our promise,
            # whatever the first plan after the restart (maybe not made yet) would say.
            self._sub_ids[translation.event_id] = tuple(e.id for e in held)
            self._taken |= {e.id for e in held}
            return True, "; ".join(f"event {e.id} rev {e.modification_number} held" for e in held)
        if translation.cancelled:
            return await self._cancel(translation)
        if translation.prices:
            outcome = await self._intake.receive_prices(translation.prices, CHANNEL)
            if not outcome.accepted:
                return False, outcome.reason
        if not translation.events:
            return True, "prices taken" if translation.prices else "nothing asked"
        assessment = await self._assess(translation)
        if not assessment.deliverable:
            return False, assessment.reason
        reasons = []
        for dr_event in translation.events:
            if self._intake.holds(dr_event):
                reasons.append(f"event {dr_event.id} rev {dr_event.modification_number} held")
                continue
            outcome = await self._intake.receive(dr_event, CHANNEL)
            if not outcome.accepted:
                return False, outcome.reason
            reasons.append(outcome.reason)
        self._sub_ids[translation.event_id] = tuple(e.id for e in translation.events)
        self._taken |= {e.id for e in translation.events}
        # How sure the opt-in is (the envelope, or past it a P90 offer) goes with it.
        return True, "; ".join([*reasons, assessment.reason])

    async def _assess(self, translation: Translation) -> Assessment:
        snapshot = self._intake.aggregator.latest()
        if snapshot is None or snapshot.plan is None:
            return Assessment(False, "no fleet plan yet: cannot tell what the fleet can deliver")
        plan = snapshot.plan
        planned = plan.baseline_w if plan.baseline_w is not None else plan.fleet_power_w
        beyond = await self._offer_past(plan.envelope.horizon.end, translation.events)
        return assess(
            translation.events,
            plan.envelope,
            planned,
            self.config.min_delivery_fraction,
            beyond,
        )

    async def _offer_past(
        self, horizon_end: datetime, events: Sequence[DemandResponseEvent]
    ) -> Offer | None:
        """The day-ahead offer for what the events ask past the plan's horizon (at most
        ``OFFER_WINDOW`` of it), or None (nothing past it, or no offers here)."""
        later = [e for e in events if e.end > horizon_end]
        if self._offers is None or not later:
            return None
        start = max(horizon_end, min(e.start for e in later))
        end = min(max(e.end for e in later), start + OFFER_WINDOW)
        return await self._offers.offer(start, end, self.config.offer_confidence)

    async def _cancel(self, translation: Translation) -> tuple[bool, str]:
        self._sub_ids.pop(translation.event_id, None)
        own = channel_id(CHANNEL, translation.event_id)
        ids = self._intake.parts_of(own) or [own]
        reasons = [(await self._intake.cancel(sub_id)).reason for sub_id in ids]
        return True, "; ".join(reasons)

    def _wrap_created_event(self) -> None:
        # openleadr answers every oadrCreatedEvent with responseDescription "OK"; the
        # eiResponse's description is free text (spec 8.2.1), so an opt-out carries its
        # reason there for the utility's operator.
        create = self._client._create_message

        def with_reasons(message_type: str, **payload: Any) -> Any:
            if message_type == "oadrCreatedEvent":
                for response in payload.get("event_responses", []):
                    decision = self.decisions.get(response.get("event_id"))
                    if decision is not None and response.get("opt_type") == "optOut":
                        response["response_description"] = decision.reason[:240]
            return create(message_type, **payload)

        self._client._create_message = with_reasons

    # -- telemetry ------------------------------------------------------------------

    def _telemetry_reader(self, resource: str) -> Callable[[], float]:
        def read() -> float:
            return self.telemetry().get(resource, 0.0)

        return read

    def telemetry(self) -> dict[str, float]:
        """Fleet power now and how far it can move up and down (W)."""
        snapshot = self._intake.aggregator.latest()
        if snapshot is None or snapshot.plan is None:
            return dict.fromkeys(TELEMETRY, 0.0)
        plan = snapshot.plan
        power = plan.power_now_w
        mine = [m for m in self._intake.measurements() if m["event_id"] in self._taken]
        return {
            "fleet_power_w": power,
            "flexibility_up_w": max(float(plan.envelope.upper_w[0]) - power, 0.0),
            "flexibility_down_w": max(power - float(plan.envelope.lower_w[0]), 0.0),
            "baseline_w": power if plan.baseline_w is None else float(plan.baseline_w[0]),
            "dr_asked_wh": sum(float(str(m["asked_wh"])) for m in mine),
            "dr_delivered_wh": sum(float(str(m["delivered_wh"])) for m in mine),
            "dr_delivered_metered_wh": _metered_sum(mine, "delivered_metered_wh"),
            "dr_shortfall_wh": _metered_sum(mine, "shortfall_wh"),
        }


def _metered_sum(measurements: list[dict[str, object]], key: str) -> float:
    """``key`` of the metered M&V summed over the events measured so far."""
    found = [m.get("measured") for m in measurements]
    return sum(float(str(m[key])) for m in found if isinstance(m, Mapping))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
