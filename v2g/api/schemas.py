"""The API's bodies as typed msgspec Structs, named as the wire names them: requests are
decoded into them strictly (``wire.body``) and the OpenAPI document's schemas are
generated from them (``openapi.py``), so the parser and the contract cannot drift.

Requests (``Body``) refuse unknown fields; responses (``Answer``) describe what handlers
send (optional fields default to ``UNSET``: absent, never null).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from v2g.demand_response.event import MAX_DR_VALUE_W
from v2g.drivers import TOKEN_TYPES
from v2g.ocpp.operations import ID_TOKEN_TYPES, MAX_ID, TRIGGERABLE
from v2g.store import AuditEntry

#: Points a price curve may have.
MAX_PRICE_POINTS = 2000
#: Tariffs one PUT may set.
MAX_TARIFFS = 50
#: The highest base-load factor taken (ten times the network's own loads: a typo).
MAX_FACTOR = 10.0


class Body(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A request body: unknown fields are refused."""


class Answer(Struct, frozen=True, kw_only=True):
    """A response body."""


def _described(text: str) -> Meta:
    return Meta(description=text)


class IsoTime(datetime):
    """A moment in ISO 8601 with its zone, in any form Python reads (``18:00+02:00``,
    ``18:00:00.5Z``): the API's promise, wider than RFC 3339's ``date-time``, which
    msgspec alone would hold requests to. Decoded by ``wire.body``'s hook."""


#: A moment with its zone; a naive time is refused.
Time = Annotated[
    IsoTime,
    Meta(extra_json_schema={"type": "string", "format": "date-time"}),
]
Money = Annotated[str | float, _described('a decimal amount, e.g. "0.30"')]
Watts = Annotated[float, Meta(ge=-MAX_DR_VALUE_W, le=MAX_DR_VALUE_W, description="W")]
OcppInt = Annotated[int, Meta(ge=0, le=MAX_ID)]
Weekday = Annotated[int, Meta(ge=0, le=6, description="0 = Monday")]
SlotEnds = Annotated[
    list[float],
    _described(
        "Each slot's end in s after the start: slots follow the clock (slot_s apart), the "
        "first runs from now, and DR events cut slots at their start and end."
    ),
]


# --- errors and health --------------------------------------------------------------


class Problem(Answer, frozen=True, kw_only=True):
    """RFC 9457 problem details; ``errors`` has one line per offending field."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[str] | UnsetType = UNSET


class StoreHealth(Answer, frozen=True, kw_only=True):
    """DR store writes: failing while the last one failed."""

    failing: bool
    failures: int
    last_failure_at: str | None
    last_error: str | None


class Channel(Answer, frozen=True, kw_only=True):
    """One OpenADR link (openadr2b, openadr3), with the VTN's own words on error."""

    version: str
    vtn_url: str
    connected: bool
    last_poll_at: str | None
    last_error: str | None


class Health(Answer, frozen=True, kw_only=True):
    status: Literal["ok", "degraded"]
    cycle: int | None
    at: str | None
    notes: list[str]
    store: StoreHealth
    channels: dict[str, Channel] | UnsetType = UNSET


# --- fleet, envelope, plan, grid -------------------------------------------------------


class FleetMember(Answer, frozen=True, kw_only=True):
    """One connected vehicle: state, SoC, setpoint (W, + = charging) and why."""

    evse_id: str
    session_id: str
    ev_id: str | UnsetType | None = UNSET
    bus: int
    plugged_in_at: Time | UnsetType = UNSET
    soc_percent: float | None
    departure: str | UnsetType | None = UNSET
    measured_power_w: float | UnsetType = UNSET
    setpoint_w: float | None
    binding_limit: str | None
    v2g_allowed: bool | UnsetType = UNSET
    needs_source: (
        Annotated[
            str,
            _described(
                "Where the vehicle's needs came from: 'ev energy requests', "
                "'soc and capacity' or 'site default' (guessed)."
            ),
        ]
        | UnsetType
    ) = UNSET
    needs_guessed: (
        Annotated[
            str | None,
            _described("What was guessed about the needs and why (null: all stated)."),
        ]
        | UnsetType
    ) = UNSET
    need_wh: float | UnsetType = UNSET
    expected_departure: (
        Annotated[str, _described("Stated departure, else the site's guess.")] | UnsetType
    ) = UNSET


class Fleet(Answer, frozen=True, kw_only=True):
    at: Time
    vehicles: list[FleetMember]


class Envelope(Answer, frozen=True, kw_only=True):
    """The fleet as one virtual battery over the horizon (W, Wh; + = charging)."""

    start: Time
    slot_s: float
    slot_ends_s: SlotEnds | UnsetType = UNSET
    vehicles: int
    lower_w: list[float]
    upper_w: list[float]
    min_energy_wh: list[float] | UnsetType = UNSET
    max_energy_wh: list[float] | UnsetType = UNSET
    lower_source: str | UnsetType = UNSET
    upper_source: str | UnsetType = UNSET


class Violation(Answer, frozen=True, kw_only=True):
    element: str
    metric: str
    value: float
    limit: float


class Verdict(Answer, frozen=True, kw_only=True):
    ok: bool
    violations: list[Violation]
    max_line_loading_percent: float
    max_trafo_loading_percent: float | UnsetType = UNSET
    min_vm_pu: float
    max_vm_pu: float


class Setpoint(Answer, frozen=True, kw_only=True):
    evse_id: str
    power_w: float
    valid_until: Time
    binding_limit: str


class Plan(Answer, frozen=True, kw_only=True):
    """Setpoints with their binding limits, the fleet's planned power per slot against
    the DR target cap, and the AC grid verdict."""

    at: Time
    cycle: int
    plan_ms: float | UnsetType = UNSET
    health: list[str] | UnsetType = UNSET
    created_at: Time | UnsetType = UNSET
    strategy: str
    notes: list[str] | UnsetType = UNSET
    slot_s: float
    slot_ends_s: SlotEnds | UnsetType = UNSET
    fleet_power_w: list[float]
    target_cap_w: list[float | None]
    target_sources: list[str] | UnsetType = UNSET
    baseline_w: list[float] | UnsetType | None = UNSET
    setpoints: list[Setpoint]
    grid: Verdict | None


class BusVoltage(Answer, frozen=True, kw_only=True):
    bus: str
    vm_pu: float | None


class BranchLoading(Answer, frozen=True, kw_only=True):
    element: str
    loading_percent: float | None


class GridProfile(Answer, frozen=True, kw_only=True):
    """Under the current setpoints: voltage at every bus and loading of every line and
    transformer (served with a real network)."""

    converged: bool
    base_load_factor: float | UnsetType = UNSET
    vm_pu_min: float
    vm_pu_max: float
    buses: list[BusVoltage]
    branches: list[BranchLoading]


class PastVerdict(Verdict, frozen=True, kw_only=True):
    at: Time


class Grid(Answer, frozen=True, kw_only=True):
    at: Time
    network: str
    profile: GridProfile | UnsetType | None = UNSET
    verdict: Verdict | None
    history: list[PastVerdict]


# --- demand response ---------------------------------------------------------------------

#: The common unprintable characters as a pattern, for the document only: the server
#: checks Unicode categories (``unprintable_in``) and names the character it refused.
_PRINTABLE = (
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f"
    "\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ud800-\\udfff]+$"
)


class DrEventBody(Body, frozen=True, kw_only=True):
    """A utility's DR event. kind: export_w (deliver this much discharge), import_limit_w
    (cap net charging), shed_w (reduce charging by this much). A repeated id with a higher
    modification_number replaces the event; lower or equal is ignored."""

    id: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=256,
            description="Printable: control, format (bidi, zero-width), surrogate, "
            "private-use and unassigned characters are refused.",
            extra_json_schema={"pattern": _PRINTABLE},
        ),
    ]
    modification_number: Annotated[int, Meta(ge=0, le=2**31 - 1)] = 0
    start: Time
    end: Time
    kind: Literal["export_w", "import_limit_w", "shed_w"]
    value: Annotated[float, Meta(ge=0, le=MAX_DR_VALUE_W, description="W")]


class DrMeasurement(Answer, frozen=True, kw_only=True):
    """M&V against the plan without DR events (the baseline), in Wh."""

    asked_wh: float
    delivered_wh: Annotated[float, _described("all that was delivered")]
    credited_wh: Annotated[float, _described("delivered, at most the ask")]
    beyond_ask_wh: Annotated[
        float, _described("delivered beyond the ask (moved for prices, not for DR)")
    ]
    delivery_percent: float | UnsetType | None = UNSET
    last_at: Time | UnsetType | None = UNSET
    observations: int | UnsetType = UNSET


class Baseline(Answer, frozen=True, kw_only=True):
    rule: str
    energy_wh: float | None
    delivered_wh: float | None
    days: list[str] | UnsetType = UNSET
    reason: str | UnsetType = UNSET


class Baselines(Answer, frozen=True, kw_only=True):
    plan: Baseline
    meter: Baseline


class DrMetered(Answer, frozen=True, kw_only=True):
    """M&V from meter data over exactly the event's window (Wh, + = charging), against
    the plan without DR events and a meter baseline from similar days."""

    asked_wh: float
    metered_wh: Annotated[float, _described("what the meters saw")]
    delivered_metered_wh: float
    shortfall_wh: Annotated[float, _described("asked, not delivered")] | UnsetType = UNSET
    final: Annotated[bool, _described("the window is over")] | UnsetType = UNSET
    baseline: Baselines


class DrEvent(Answer, frozen=True, kw_only=True):
    id: str
    modification_number: int | UnsetType = UNSET
    start: Time | UnsetType = UNSET
    end: Time | UnsetType = UNSET
    kind: str | UnsetType = UNSET
    value: float | UnsetType = UNSET
    status: Literal["accepted", "pending", "active", "ended", "cancelled"]
    measurement: DrMeasurement | UnsetType | None = UNSET
    measured: DrMetered | UnsetType | None = UNSET


class DrEvents(Answer, frozen=True, kw_only=True):
    events: list[DrEvent]
    cancelled: list[str]


class Outcome(Answer, frozen=True, kw_only=True):
    accepted: bool
    outcome: str
    event: DrEvent | UnsetType = UNSET


# --- sessions and usage ----------------------------------------------------------------


class MeterValue(Answer, frozen=True, kw_only=True):
    at: Time
    power_w: float
    soc_percent: float | UnsetType | None = UNSET


class Session(Answer, frozen=True, kw_only=True):
    session_id: str
    evse_id: str
    ev_id: str | UnsetType | None = UNSET
    protocol: str | UnsetType | None = UNSET
    started_at: Time
    ended_at: str | UnsetType | None = UNSET
    end_reason: str | UnsetType | None = UNSET
    meter_values: list[MeterValue] | UnsetType = UNSET


class Sessions(Answer, frozen=True, kw_only=True):
    sessions: list[Session]


NonNegative = Annotated[float, Meta(ge=0)]


class EvseUsage(Answer, frozen=True, kw_only=True):
    evse_id: Annotated[str, _described('an EVSE, or "site" for all')]
    sessions: Annotated[int, Meta(ge=0)]
    plugged_s: NonNegative
    idle_s: Annotated[float, Meta(ge=0, description="plugged, |power| < 100 W")]
    charged_wh: NonNegative
    discharged_wh: Annotated[float, Meta(ge=0, description="V2G energy")]
    utilization: Annotated[float, Meta(ge=0, le=1)]


class HourOfWeek(Answer, frozen=True, kw_only=True):
    weekday: Weekday
    hour: Annotated[int, Meta(ge=0, le=23)]
    sessions_started: Annotated[int, Meta(ge=0)]
    plugged_s: NonNegative
    charged_wh: NonNegative
    discharged_wh: NonNegative


class Usage(Answer, rename={"from_": "from"}, frozen=True, kw_only=True):
    from_: Time
    to: Time
    tz: str
    site: EvseUsage
    evses: list[EvseUsage]
    hours_of_week: Annotated[list[HourOfWeek], Meta(min_length=168, max_length=168)]


# --- flexibility and forecasts ------------------------------------------------------------


class FlexibilitySlot(Answer, frozen=True, kw_only=True):
    start: Time
    export_w: NonNegative
    shed_w: NonNegative


class Flexibility(Answer, frozen=True, kw_only=True):
    start: Time
    end: Time
    confidence: float
    basis: Annotated[str, _described("how the offer was made")]
    slots: list[FlexibilitySlot]


class ForecastHour(Answer, frozen=True, kw_only=True):
    hour_of_week: Annotated[int, Meta(ge=0, le=167)]
    arrivals: list[float]
    arrivals_mean: Annotated[float, Meta(ge=0, description="the expected number of arrivals")]
    dwell_s: list[float]
    energy_wh: list[float]


class SessionForecast(Answer, frozen=True, kw_only=True):
    quantiles: list[float]
    basis: Annotated[
        str, _described("what it was learned from, or why it could not be (hours empty)")
    ]
    planner: Annotated[
        str,
        _described(
            "what the planner foresees arrivals from ([control] foresee_arrivals), or why "
            "it foresees none"
        ),
    ]
    hours: list[ForecastHour]


class BaseLoadReading(Body, frozen=True, kw_only=True):
    at: Time
    factor: Annotated[float, Meta(ge=0, le=MAX_FACTOR)]


class BaseLoadReadings(Body, frozen=True, kw_only=True):
    readings: Annotated[list[BaseLoadReading], Meta(min_length=1)]


class Stored(Answer, frozen=True, kw_only=True):
    stored: Annotated[int, _described("readings stored")]


class BaseLoadSlot(Answer, frozen=True, kw_only=True):
    start: Time
    factors: list[float]


class BaseLoadForecast(Answer, frozen=True, kw_only=True):
    status: Annotated[str, _described("learned from what, or why not")]
    learned_at: Time | None
    plan_quantile: float
    quantiles: list[float]
    slots: list[BaseLoadSlot]


# --- billing -------------------------------------------------------------------------------


class Band(Body, frozen=True, kw_only=True):
    price_per_kwh: Money
    start: str
    end: str
    weekdays: list[Weekday] | UnsetType = UNSET


class Tariff(Body, frozen=True, kw_only=True):
    """Money as decimal strings (or numbers on input). Bands: energy prices by local time
    of day (quarter hours, zone) and weekday (0 = Monday); day_ahead_markup_per_kwh set: a
    dynamic tariff, the day-ahead price plus it."""

    id: Annotated[str, Meta(pattern="^[A-Za-z0-9._-]{1,36}$")]
    currency: Annotated[str, Meta(pattern="^[A-Z]{3}$")]
    energy_price_per_kwh: Money
    bands: list[Band] | UnsetType = UNSET
    day_ahead_markup_per_kwh: Money | UnsetType = UNSET
    v2g_remuneration_per_kwh: Money | UnsetType = UNSET
    idle_fee_per_min: Money | UnsetType = UNSET
    idle_grace_min: Annotated[float, Meta(ge=0, le=1440)] | UnsetType = UNSET
    vat_percent: Money | UnsetType = UNSET
    zone: str | UnsetType = UNSET


class Tariffs(Body, frozen=True, kw_only=True):
    tariffs: Annotated[list[Tariff], Meta(min_length=1, max_length=MAX_TARIFFS)]


def _object(description: str, *required: str) -> Meta:
    """An object only named here (its fields are another standard's or the ledger's)."""
    return Meta(description=description, extra_json_schema={"required": list(required)})


class Cdrs(Answer, frozen=True, kw_only=True):
    cdrs: list[
        Annotated[
            dict[str, Any],
            _object("an OCPI 2.2.1 CDR", "id", "start_date_time", "end_date_time", "total_cost"),
        ]
    ]


class DriverBills(Answer, frozen=True, kw_only=True):
    bills: list[
        Annotated[
            dict[str, Any],
            _object("a bill", "session_id", "net_due", "v2g_remuneration", "ledger"),
        ]
    ]


# --- drivers and reservations -----------------------------------------------------------


class IdToken(Body, frozen=True, kw_only=True):
    type: Annotated[str, Meta(extra_json_schema={"enum": list(TOKEN_TYPES)})]
    value: Annotated[str, Meta(min_length=1, max_length=64)]
    valid_from: Time | UnsetType = UNSET
    valid_until: Time | None = None
    blocked: bool = False


class Driver(Answer, frozen=True, kw_only=True):
    driver_id: str
    name: str
    created_at: Time
    blocked: bool
    id_tokens: list[IdToken] | UnsetType = UNSET


class Drivers(Answer, frozen=True, kw_only=True):
    drivers: list[Driver]


class DriverBody(Body, frozen=True, kw_only=True):
    driver_id: Annotated[str, Meta(pattern="^[A-Za-z0-9._-]{1,64}$")] | UnsetType = UNSET
    name: Annotated[str, Meta(min_length=1, max_length=200)]


class Refusals(Answer, frozen=True, kw_only=True):
    refusals: list[dict[str, Any]]


class Reservation(Answer, frozen=True, kw_only=True):
    reservation_id: str
    driver_id: str
    evse_id: str
    start: Time
    end: Time
    departure: Time
    energy_wh: float
    v2g: bool
    status: Literal["booked", "used", "no_show", "cancelled"]


class Reservations(Answer, frozen=True, kw_only=True):
    reservations: list[Reservation]


class ReservationBody(Body, frozen=True, kw_only=True):
    """evse_id, or site: true for any free EVSE of the site; driver_id only from operators
    (a driver token books for its own driver)."""

    driver_id: str | UnsetType = UNSET
    evse_id: str | UnsetType = UNSET
    site: bool = False
    start: Time
    end: Time
    departure: Time
    energy_wh: Annotated[float, Meta(ge=0, le=200_000)]
    v2g: bool = False


# --- OCPP stations --------------------------------------------------------------------------


class Connector(Answer, frozen=True, kw_only=True):
    connector_id: int
    status: str
    at: Time


class StationEvse(Answer, frozen=True, kw_only=True):
    ocpp_evse: int
    evse_id: str | None
    connectors: list[Connector]


class Station(Answer, frozen=True, kw_only=True):
    station_id: str
    online: bool
    version: str | UnsetType | None = UNSET
    vendor_name: str | UnsetType | None = UNSET
    model: str | UnsetType | None = UNSET
    serial_number: str | UnsetType | None = UNSET
    firmware_version: str | UnsetType | None = UNSET
    boot_reason: str | UnsetType | None = UNSET
    booted_at: Time | UnsetType | None = UNSET
    connected_at: Time | UnsetType | None = UNSET
    disconnected_at: Time | UnsetType | None = UNSET
    evses: list[StationEvse]


class Stations(Answer, frozen=True, kw_only=True):
    stations: list[Station]


class Transaction(Answer, frozen=True, kw_only=True):
    station_id: str | UnsetType = UNSET
    transaction_id: str
    session_id: Annotated[str, _described("see /sessions/{session_id}")]
    ocpp_evse: int | UnsetType = UNSET
    evse_id: str
    id_token: str | UnsetType | None = UNSET
    started_at: Time
    ended_at: Time | UnsetType | None = UNSET
    stopped_reason: str | UnsetType | None = UNSET
    events: Annotated[int, _described("TransactionEvents received")]
    last_seq_no: int | UnsetType = UNSET


class Transactions(Answer, frozen=True, kw_only=True):
    transactions: list[Transaction]


class StatusChange(Answer, frozen=True, kw_only=True):
    ocpp_evse: int
    connector_id: int
    status: str
    at: Time
    received_at: Time | UnsetType = UNSET


class StationDetail(Station, frozen=True, kw_only=True):
    open_transactions: list[Transaction]
    status_history: list[StatusChange]


class TransactionEvent(Answer, frozen=True, kw_only=True):
    seq_no: int
    event_type: Literal["Started", "Updated", "Ended"]
    trigger_reason: str
    at: Time
    offline: bool | UnsetType = UNSET
    received_at: Time | UnsetType = UNSET


class TransactionDetail(Transaction, frozen=True, kw_only=True):
    transaction_events: list[TransactionEvent]
    meter_values: list[MeterValue]


EvseField = Annotated[str, _described("a site EVSE id of this station")]
IdTokenValue = Annotated[str, Meta(min_length=1, max_length=36)]
IdTokenType = Annotated[str, Meta(extra_json_schema={"enum": list(ID_TOKEN_TYPES)})]


class OperationBody(Body, tag_field="operation", frozen=True, kw_only=True):
    """A remote operation, in the site's words; the CSMS sends the OCPP call named in
    v2g/ocpp/operations.py."""


class Reset(OperationBody, tag="reset", frozen=True, kw_only=True):
    type: Literal["Immediate", "OnIdle"]
    evse_id: EvseField | UnsetType = UNSET


class ClearChargingProfile(OperationBody, tag="clear_charging_profile", frozen=True, kw_only=True):
    evse_id: EvseField | UnsetType = UNSET
    charging_profile_id: OcppInt | UnsetType = UNSET


class RequestStartTransaction(
    OperationBody, tag="request_start_transaction", frozen=True, kw_only=True
):
    evse_id: EvseField
    id_token: IdTokenValue
    id_token_type: IdTokenType | UnsetType = UNSET


class RequestStopTransaction(
    OperationBody, tag="request_stop_transaction", frozen=True, kw_only=True
):
    evse_id: EvseField | UnsetType = UNSET
    transaction_id: IdTokenValue | UnsetType = UNSET


class ReserveNow(OperationBody, tag="reserve_now", frozen=True, kw_only=True):
    evse_id: EvseField
    id_token: IdTokenValue
    id_token_type: IdTokenType | UnsetType = UNSET
    expires_at: Time
    reservation_id: OcppInt | UnsetType = UNSET


class CancelReservation(OperationBody, tag="cancel_reservation", frozen=True, kw_only=True):
    reservation_id: OcppInt


class TriggerMessage(OperationBody, tag="trigger_message", frozen=True, kw_only=True):
    message: Annotated[str, Meta(extra_json_schema={"enum": list(TRIGGERABLE)})]
    evse_id: EvseField | UnsetType = UNSET


class GetCompositeSchedule(OperationBody, tag="get_composite_schedule", frozen=True, kw_only=True):
    evse_id: EvseField
    duration_s: Annotated[int, Meta(ge=1, le=MAX_ID)]
    rate_unit: Literal["W", "A"] | UnsetType = UNSET


Operation = (
    Reset
    | ClearChargingProfile
    | RequestStartTransaction
    | RequestStopTransaction
    | ReserveNow
    | CancelReservation
    | TriggerMessage
    | GetCompositeSchedule
)


class OperationResult(Answer, frozen=True, kw_only=True):
    station_id: str
    action: Annotated[str, _described("the OCPP action sent")]
    request: Annotated[dict[str, Any], _described("the OCPP request payload")]
    status: Annotated[str, _described("the answer's status")]
    response: Annotated[dict[str, Any], _described("the station's OCPP answer")]


# --- operator commands --------------------------------------------------------------------


class SetFleetCapCommand(
    Body, tag_field="command", tag="set_fleet_cap", frozen=True, kw_only=True
):
    """Cap the fleet's net power (W, + = charging); null lifts the cap."""

    power_w: Watts | None


PricePoint = tuple[Time, float]


class SetPricesCommand(Body, tag_field="command", tag="set_prices", frozen=True, kw_only=True):
    """A new price curve: [time, price per kWh] pairs, step-wise."""

    prices: Annotated[list[PricePoint], Meta(min_length=1, max_length=MAX_PRICE_POINTS)]


Command = SetFleetCapCommand | SetPricesCommand


class Audit(Answer, frozen=True, kw_only=True):
    commands: list[AuditEntry]


#: Request bodies that are a choice of Structs, named in the document.
UNIONS: dict[str, Any] = {"Command": Command, "Operation": Operation}
