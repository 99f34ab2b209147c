"""The OpenAPI 3.1 document of the operator API, written out by hand (it is the
contract; a test holds the routes, the roles and the live responses to it).

``x-roles`` on an operation lists the roles that may call it; an operation without
``security`` is public.
"""

from __future__ import annotations

from typing import Any

from v2g.api.roles import COMMAND, DEMAND_RESPONSE, OWN, READ

BASE = "/api/v1"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _operation(
    summary: str,
    roles: frozenset[str] | None,
    responses: dict[str, Any],
    body: str | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if roles is not None:
        operation["security"] = [{"bearer": []}]
        operation["x-roles"] = sorted(roles)
        operation["responses"]["401"] = _problem("no token, or an unknown or revoked one")
        operation["responses"]["403"] = _problem("the token's role may not do this")
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
        operation["responses"]["400"] = _problem("malformed JSON, unknown field, wrong type")
        operation["responses"]["413"] = _problem("body larger than 64 KiB")
        operation["responses"]["415"] = _problem("body not sent as application/json")
    return operation


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_MONEY = {"type": ["string", "number"], "description": 'a decimal amount, e.g. "0.30"'}
_TIME = {"type": "string", "format": "date-time"}
_NO_PLAN = _problem("no plan yet (the first control cycle has not run)")
_STORE_FAILED = _problem("the store refused the write: nothing was applied; retry")
_SLOT_ENDS = {
    "type": "array",
    "items": {"type": "number"},
    "description": "Each slot's end in s after the start: slots follow the clock "
    "(slot_s apart), the first runs from now, and DR events cut slots at their start and end.",
}

_TEXT_OR_NULL = {"type": ["string", "null"]}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_EVSE_FIELD = {"type": "string", "description": "a site EVSE id of this station"}
_ID_TOKEN = {"type": "string", "minLength": 1, "maxLength": 36}
_ID_TOKEN_TYPE = {
    "enum": ["Central", "ISO14443", "ISO15693", "eMAID", "KeyCode", "Local", "MacAddress"]
}
_OCPP_INT = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def _op(name: str, required: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["operation", *required],
        "properties": {"operation": {"const": name}, **fields},
    }


STATION_SCHEMAS: dict[str, Any] = {
    "Connector": {
        "type": "object",
        "required": ["connector_id", "status", "at"],
        "properties": {
            "connector_id": {"type": "integer"},
            "status": {"type": "string"},
            "at": _TIME,
        },
    },
    "Station": {
        "type": "object",
        "required": ["station_id", "online", "evses"],
        "properties": {
            "station_id": {"type": "string"},
            "online": {"type": "boolean"},
            "version": _TEXT_OR_NULL,
            "vendor_name": _TEXT_OR_NULL,
            "model": _TEXT_OR_NULL,
            "serial_number": _TEXT_OR_NULL,
            "firmware_version": _TEXT_OR_NULL,
            "boot_reason": _TEXT_OR_NULL,
            "booted_at": _TIME_OR_NULL,
            "connected_at": _TIME_OR_NULL,
            "disconnected_at": _TIME_OR_NULL,
            "evses": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ocpp_evse", "evse_id", "connectors"],
                    "properties": {
                        "ocpp_evse": {"type": "integer"},
                        "evse_id": _TEXT_OR_NULL,
                        "connectors": {"type": "array", "items": _ref("Connector")},
                    },
                },
            },
        },
    },
    "Stations": {
        "type": "object",
        "required": ["stations"],
        "properties": {"stations": {"type": "array", "items": _ref("Station")}},
    },
    "StationDetail": {
        "allOf": [
            _ref("Station"),
            {
                "type": "object",
                "required": ["open_transactions", "status_history"],
                "properties": {
                    "open_transactions": {"type": "array", "items": _ref("Transaction")},
                    "status_history": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ocpp_evse", "connector_id", "status", "at"],
                            "properties": {
                                "ocpp_evse": {"type": "integer"},
                                "connector_id": {"type": "integer"},
                                "status": {"type": "string"},
                                "at": _TIME,
                                "received_at": _TIME,
                            },
                        },
                    },
                },
            },
        ]
    },
    "Transaction": {
        "type": "object",
        "required": ["transaction_id", "session_id", "evse_id", "started_at", "events"],
        "properties": {
            "station_id": {"type": "string"},
            "transaction_id": {"type": "string"},
            "session_id": {"type": "string", "description": "see /sessions/{session_id}"},
            "ocpp_evse": {"type": "integer"},
            "evse_id": {"type": "string"},
            "id_token": _TEXT_OR_NULL,
            "started_at": _TIME,
            "ended_at": _TIME_OR_NULL,
            "stopped_reason": _TEXT_OR_NULL,
            "events": {"type": "integer", "description": "TransactionEvents received"},
            "last_seq_no": {"type": "integer"},
        },
    },
    "Transactions": {
        "type": "object",
        "required": ["transactions"],
        "properties": {"transactions": {"type": "array", "items": _ref("Transaction")}},
    },
    "TransactionDetail": {
        "allOf": [
            _ref("Transaction"),
            {
                "type": "object",
                "required": ["transaction_events", "meter_values"],
                "properties": {
                    "transaction_events": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["seq_no", "event_type", "trigger_reason", "at"],
                            "properties": {
                                "seq_no": {"type": "integer"},
                                "event_type": {"enum": ["Started", "Updated", "Ended"]},
                                "trigger_reason": {"type": "string"},
                                "at": _TIME,
                                "offline": {"type": "boolean"},
                                "received_at": _TIME,
                            },
                        },
                    },
                    "meter_values": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["at", "power_w"],
                            "properties": {
                                "at": _TIME,
                                "power_w": {"type": "number"},
                                "soc_percent": _NUMBER_OR_NULL,
                            },
                        },
                    },
                },
            },
        ]
    },
    "Operation": {
        "description": "A remote operation, in the site's words; the CSMS sends the OCPP "
        "call named in v2g/ocpp/operations.py.",
        "oneOf": [
            _op(
                "reset",
                ["type"],
                type={"enum": ["Immediate", "OnIdle"]},
                evse_id=_EVSE_FIELD,
            ),
            _op(
                "clear_charging_profile",
                [],
                evse_id=_EVSE_FIELD,
                charging_profile_id=_OCPP_INT,
            ),
            _op(
                "request_start_transaction",
                ["evse_id", "id_token"],
                evse_id=_EVSE_FIELD,
                id_token=_ID_TOKEN,
                id_token_type=_ID_TOKEN_TYPE,
            ),
            _op(
                "request_stop_transaction",
                [],
                evse_id=_EVSE_FIELD,
                transaction_id={"type": "string", "minLength": 1, "maxLength": 36},
            ),
            _op(
                "reserve_now",
                ["evse_id", "id_token", "expires_at"],
                evse_id=_EVSE_FIELD,
                id_token=_ID_TOKEN,
                id_token_type=_ID_TOKEN_TYPE,
                expires_at=_TIME,
                reservation_id=_OCPP_INT,
            ),
            _op("cancel_reservation", ["reservation_id"], reservation_id=_OCPP_INT),
            _op(
                "trigger_message",
                ["message"],
                message={
                    "enum": [
                        "BootNotification",
                        "Heartbeat",
                        "StatusNotification",
                        "TransactionEvent",
                        "MeterValues",
                    ]
                },
                evse_id=_EVSE_FIELD,
            ),
            _op(
                "get_composite_schedule",
                ["evse_id", "duration_s"],
                evse_id=_EVSE_FIELD,
                duration_s={"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                rate_unit={"enum": ["W", "A"]},
            ),
        ],
    },
    "OperationResult": {
        "type": "object",
        "required": ["station_id", "action", "request", "status", "response"],
        "properties": {
            "station_id": {"type": "string"},
            "action": {"type": "string", "description": "the OCPP action sent"},
            "request": {"type": "object", "description": "the OCPP request payload"},
            "status": {"type": "string", "description": "the answer's status"},
            "response": {"type": "object", "description": "the station's OCPP answer"},
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "cycle", "at", "notes", "store"],
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "cycle": {"type": ["integer", "null"]},
            "at": {"type": ["string", "null"]},
            "notes": {"type": "array", "items": {"type": "string"}},
            "store": {
                "type": "object",
                "description": "DR store writes: failing while the last one failed.",
                "required": ["failing", "failures", "last_failure_at", "last_error"],
                "properties": {
                    "failing": {"type": "boolean"},
                    "failures": {"type": "integer"},
                    "last_failure_at": {"type": ["string", "null"]},
                    "last_error": {"type": ["string", "null"]},
                },
            },
            "channels": {
                "type": "object",
                "description": (
                    "Each OpenADR link by channel (openadr2b, openadr3): connected, "
                    "last_poll_at, last_error (with the VTN's own words), and more."
                ),
                "additionalProperties": {
                    "type": "object",
                    "required": ["version", "vtn_url", "connected", "last_poll_at", "last_error"],
                    "properties": {
                        "version": {"type": "string"},
                        "vtn_url": {"type": "string"},
                        "connected": {"type": "boolean"},
                        "last_poll_at": {"type": ["string", "null"]},
                        "last_error": {"type": ["string", "null"]},
                    },
                },
            },
        },
    },
    "FleetMember": {
        "type": "object",
        "description": "One connected vehicle: state, SoC, setpoint (W, + = charging) and why.",
        "required": ["evse_id", "session_id", "bus", "soc_percent", "setpoint_w", "binding_limit"],
        "properties": {
            "evse_id": {"type": "string"},
            "session_id": {"type": "string"},
            "ev_id": {"type": ["string", "null"]},
            "bus": {"type": "integer"},
            "plugged_in_at": _TIME,
            "soc_percent": _NUMBER_OR_NULL,
            "departure": {"type": ["string", "null"]},
            "measured_power_w": {"type": "number"},
            "setpoint_w": _NUMBER_OR_NULL,
            "binding_limit": {"type": ["string", "null"]},
            "v2g_allowed": {"type": "boolean"},
            "needs_source": {
                "type": "string",
                "description": "Where the vehicle's needs came from: 'ev energy requests', "
                "'soc and capacity' or 'site default' (guessed).",
            },
            "needs_guessed": {
                "type": ["string", "null"],
                "description": "What was guessed about the vehicle's needs and why (null: "
                "all stated by the vehicle).",
            },
            "need_wh": {
                "type": "number",
                "description": "Energy (Wh) the vehicle is to gain by its departure.",
            },
            "expected_departure": {
                "type": "string",
                "description": "Stated departure, else the site's guess.",
            },
        },
    },
    "Fleet": {
        "type": "object",
        "required": ["at", "vehicles"],
        "properties": {"at": _TIME, "vehicles": {"type": "array", "items": _ref("FleetMember")}},
    },
    "Envelope": {
        "type": "object",
        "description": "The fleet as one virtual battery over the horizon (W, Wh; + = charging).",
        "required": ["start", "slot_s", "vehicles", "lower_w", "upper_w"],
        "properties": {
            "start": _TIME,
            "slot_s": {"type": "number"},
            "slot_ends_s": _SLOT_ENDS,
            "vehicles": {"type": "integer"},
            "lower_w": {"type": "array", "items": {"type": "number"}},
            "upper_w": {"type": "array", "items": {"type": "number"}},
            "min_energy_wh": {"type": "array", "items": {"type": "number"}},
            "max_energy_wh": {"type": "array", "items": {"type": "number"}},
            "lower_source": {"type": "string"},
            "upper_source": {"type": "string"},
        },
    },
    "Verdict": {
        "type": "object",
        "required": ["ok", "violations", "max_line_loading_percent", "min_vm_pu", "max_vm_pu"],
        "properties": {
            "ok": {"type": "boolean"},
            "violations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["element", "metric", "value", "limit"],
                    "properties": {
                        "element": {"type": "string"},
                        "metric": {"type": "string"},
                        "value": {"type": "number"},
                        "limit": {"type": "number"},
                    },
                },
            },
            "max_line_loading_percent": {"type": "number"},
            "max_trafo_loading_percent": {"type": "number"},
            "min_vm_pu": {"type": "number"},
            "max_vm_pu": {"type": "number"},
        },
    },
    "Plan": {
        "type": "object",
        "description": "Setpoints with their binding limits, the fleet's planned power per "
        "slot against the DR target cap, and the AC grid verdict.",
        "required": [
            "at",
            "cycle",
            "strategy",
            "slot_s",
            "fleet_power_w",
            "target_cap_w",
            "setpoints",
            "grid",
        ],
        "properties": {
            "at": _TIME,
            "cycle": {"type": "integer"},
            "plan_ms": {"type": "number"},
            "health": {"type": "array", "items": {"type": "string"}},
            "created_at": _TIME,
            "strategy": {"type": "string"},
            "notes": {"type": "array", "items": {"type": "string"}},
            "slot_s": {"type": "number"},
            "slot_ends_s": _SLOT_ENDS,
            "fleet_power_w": {"type": "array", "items": {"type": "number"}},
            "target_cap_w": {"type": "array", "items": _NUMBER_OR_NULL},
            "target_sources": {"type": "array", "items": {"type": "string"}},
            "baseline_w": {"type": ["array", "null"], "items": {"type": "number"}},
            "setpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["evse_id", "power_w", "valid_until", "binding_limit"],
                    "properties": {
                        "evse_id": {"type": "string"},
                        "power_w": {"type": "number"},
                        "valid_until": _TIME,
                        "binding_limit": {"type": "string"},
                    },
                },
            },
            "grid": {"oneOf": [_ref("Verdict"), {"type": "null"}]},
        },
    },
    "Grid": {
        "type": "object",
        "required": ["at", "network", "verdict", "history"],
        "properties": {
            "at": _TIME,
            "network": {"type": "string"},
            "profile": {
                "description": "Under the current setpoints: voltage at every bus and "
                "loading of every line and transformer (served with a real network).",
                "type": ["object", "null"],
                "required": ["converged", "buses", "branches", "vm_pu_min", "vm_pu_max"],
                "properties": {
                    "converged": {"type": "boolean"},
                    "base_load_factor": {"type": "number"},
                    "vm_pu_min": {"type": "number"},
                    "vm_pu_max": {"type": "number"},
                    "buses": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["bus", "vm_pu"],
                            "properties": {"bus": {"type": "string"}, "vm_pu": _NUMBER_OR_NULL},
                        },
                    },
                    "branches": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["element", "loading_percent"],
                            "properties": {
                                "element": {"type": "string"},
                                "loading_percent": _NUMBER_OR_NULL,
                            },
                        },
                    },
                },
            },
            "verdict": {"oneOf": [_ref("Verdict"), {"type": "null"}]},
            "history": {
                "type": "array",
                "items": {"allOf": [_ref("Verdict")], "required": ["at"]},
            },
        },
    },
    "DrEventBody": {
        "type": "object",
        "description": "A utility's DR event. kind: export_w (deliver this much discharge), "
        "import_limit_w (cap net charging), shed_w (reduce charging by this much). A repeated "
        "id with a higher modification_number replaces the event; lower or equal is ignored.",
        "additionalProperties": False,
        "required": ["id", "start", "end", "kind", "value"],
        "properties": {
            "id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 256,
                "description": "Printable: control, format (bidi, zero-width), surrogate, "
                "private-use and unassigned characters are refused.",
                # The common cases as a pattern (the server checks Unicode categories).
                "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f"
                "\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ud800-\\udfff]+$",
            },
            "modification_number": {"type": "integer", "minimum": 0, "default": 0},
            "start": _TIME,
            "end": _TIME,
            "kind": {"enum": ["export_w", "import_limit_w", "shed_w"]},
            "value": {"type": "number", "minimum": 0, "description": "W"},
        },
    },
    "DrEvent": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "string"},
            "modification_number": {"type": "integer"},
            "start": _TIME,
            "end": _TIME,
            "kind": {"type": "string"},
            "value": {"type": "number"},
            "status": {"enum": ["accepted", "pending", "active", "ended", "cancelled"]},
            "measurement": {
                "oneOf": [_ref("DrMeasurement"), {"type": "null"}],
                "description": "what the event achieved so far (null before it was active)",
            },
            "measured": {
                "oneOf": [_ref("DrMetered"), {"type": "null"}],
                "description": "what the meters saw (null before it was measured)",
            },
        },
    },
    "DrMetered": {
        "type": "object",
        "description": (
            "M&V from meter data over exactly the event's window (Wh, + = charging), "
            "against the plan without DR events and a meter baseline from similar days"
        ),
        "required": ["asked_wh", "metered_wh", "delivered_metered_wh", "baseline"],
        "properties": {
            "asked_wh": {"type": "number"},
            "metered_wh": {"type": "number", "description": "what the meters saw"},
            "delivered_metered_wh": {"type": "number"},
            "shortfall_wh": {"type": "number", "description": "asked, not delivered"},
            "final": {"type": "boolean", "description": "the window is over"},
            "baseline": {
                "type": "object",
                "required": ["plan", "meter"],
                "properties": {
                    name: {
                        "type": "object",
                        "required": ["rule", "energy_wh", "delivered_wh"],
                        "properties": {
                            "rule": {"type": "string"},
                            "energy_wh": {"type": ["number", "null"]},
                            "delivered_wh": {"type": ["number", "null"]},
                            "days": {"type": "array", "items": {"type": "string"}},
                            "reason": {"type": "string"},
                        },
                    }
                    for name in ("plan", "meter")
                },
            },
        },
    },
    "DrMeasurement": {
        "type": "object",
        "description": "M&V against the plan without DR events (the baseline), in Wh",
        "required": ["asked_wh", "delivered_wh", "credited_wh", "beyond_ask_wh"],
        "properties": {
            "asked_wh": {"type": "number"},
            "delivered_wh": {"type": "number", "description": "all that was delivered"},
            "credited_wh": {"type": "number", "description": "delivered, at most the ask"},
            "beyond_ask_wh": {
                "type": "number",
                "description": "delivered beyond the ask (moved for prices, not for DR)",
            },
            "delivery_percent": {"type": ["number", "null"]},
            "last_at": {"type": ["string", "null"], "format": "date-time"},
            "observations": {"type": "integer"},
        },
    },
    "DrEvents": {
        "type": "object",
        "required": ["events", "cancelled"],
        "properties": {
            "events": {"type": "array", "items": _ref("DrEvent")},
            "cancelled": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Outcome": {
        "type": "object",
        "required": ["accepted", "outcome"],
        "properties": {
            "accepted": {"type": "boolean"},
            "outcome": {"type": "string"},
            "event": _ref("DrEvent"),
        },
    },
    "Session": {
        "type": "object",
        "required": ["session_id", "evse_id", "started_at"],
        "properties": {
            "session_id": {"type": "string"},
            "evse_id": {"type": "string"},
            "ev_id": {"type": ["string", "null"]},
            "protocol": {"type": ["string", "null"]},
            "started_at": _TIME,
            "ended_at": {"type": ["string", "null"]},
            "end_reason": {"type": ["string", "null"]},
            "meter_values": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "power_w"],
                    "properties": {
                        "at": _TIME,
                        "power_w": {"type": "number"},
                        "soc_percent": _NUMBER_OR_NULL,
                    },
                },
            },
        },
    },
    "Sessions": {
        "type": "object",
        "required": ["sessions"],
        "properties": {"sessions": {"type": "array", "items": _ref("Session")}},
    },
    "EvseUsage": {
        "type": "object",
        "required": [
            "evse_id",
            "sessions",
            "plugged_s",
            "idle_s",
            "charged_wh",
            "discharged_wh",
            "utilization",
        ],
        "properties": {
            "evse_id": {"type": "string", "description": 'an EVSE, or "site" for all'},
            "sessions": {"type": "integer", "minimum": 0},
            "plugged_s": {"type": "number", "minimum": 0},
            "idle_s": {"type": "number", "minimum": 0, "description": "plugged, |power| < 100 W"},
            "charged_wh": {"type": "number", "minimum": 0},
            "discharged_wh": {"type": "number", "minimum": 0, "description": "V2G energy"},
            "utilization": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
    "Usage": {
        "type": "object",
        "required": ["from", "to", "tz", "site", "evses", "hours_of_week"],
        "properties": {
            "from": _TIME,
            "to": _TIME,
            "tz": {"type": "string"},
            "site": _ref("EvseUsage"),
            "evses": {"type": "array", "items": _ref("EvseUsage")},
            "hours_of_week": {
                "type": "array",
                "minItems": 168,
                "maxItems": 168,
                "items": {
                    "type": "object",
                    "required": [
                        "weekday",
                        "hour",
                        "sessions_started",
                        "plugged_s",
                        "charged_wh",
                        "discharged_wh",
                    ],
                    "properties": {
                        "weekday": {"type": "integer", "minimum": 0, "maximum": 6},
                        "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                        "sessions_started": {"type": "integer", "minimum": 0},
                        "plugged_s": {"type": "number", "minimum": 0},
                        "charged_wh": {"type": "number", "minimum": 0},
                        "discharged_wh": {"type": "number", "minimum": 0},
                    },
                },
            },
        },
    },
    "Tariff": {
        "type": "object",
        "description": "Money as decimal strings (or numbers on input). Bands: energy prices "
        "by local time of day (quarter hours, zone) and weekday (0 = Monday); "
        "day_ahead_markup_per_kwh set: a dynamic tariff, the day-ahead price plus it.",
        "required": ["id", "currency", "energy_price_per_kwh"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,36}$"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "energy_price_per_kwh": _MONEY,
            "bands": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["price_per_kwh", "start", "end"],
                    "additionalProperties": False,
                    "properties": {
                        "price_per_kwh": _MONEY,
                        "start": {"type": "string"},
                        "end": {"type": "string"},
                        "weekdays": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 0, "maximum": 6},
                        },
                    },
                },
            },
            "day_ahead_markup_per_kwh": _MONEY,
            "v2g_remuneration_per_kwh": _MONEY,
            "idle_fee_per_min": _MONEY,
            "idle_grace_min": {"type": "number", "minimum": 0, "maximum": 1440},
            "vat_percent": _MONEY,
            "zone": {"type": "string"},
        },
    },
    "Tariffs": {
        "type": "object",
        "required": ["tariffs"],
        "additionalProperties": False,
        "properties": {
            "tariffs": {"type": "array", "minItems": 1, "maxItems": 50, "items": _ref("Tariff")}
        },
    },
    "Cdrs": {
        "type": "object",
        "required": ["cdrs"],
        "properties": {
            "cdrs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "description": "an OCPI 2.2.1 CDR object",
                    "required": ["id", "start_date_time", "end_date_time", "total_cost"],
                },
            }
        },
    },
    "Flexibility": {
        "type": "object",
        "required": ["start", "end", "confidence", "basis", "slots"],
        "properties": {
            "start": _TIME,
            "end": _TIME,
            "confidence": {"type": "number"},
            "basis": {"type": "string", "description": "how the offer was made"},
            "slots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["start", "export_w", "shed_w"],
                    "properties": {
                        "start": _TIME,
                        "export_w": {"type": "number", "minimum": 0},
                        "shed_w": {"type": "number", "minimum": 0},
                    },
                },
            },
        },
    },
    "SessionForecast": {
        "type": "object",
        "required": ["quantiles", "basis", "hours"],
        "properties": {
            "quantiles": {"type": "array", "items": {"type": "number"}},
            "basis": {
                "type": "string",
                "description": "what it was learned from, or why it could not be (hours empty)",
            },
            "hours": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hour_of_week", "arrivals", "dwell_s", "energy_wh"],
                    "properties": {
                        "hour_of_week": {"type": "integer", "minimum": 0, "maximum": 167},
                        "arrivals": {"type": "array", "items": {"type": "number"}},
                        "dwell_s": {"type": "array", "items": {"type": "number"}},
                        "energy_wh": {"type": "array", "items": {"type": "number"}},
                    },
                },
            },
        },
    },
    "BaseLoadReadings": {
        "type": "object",
        "required": ["readings"],
        "properties": {
            "readings": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["at", "factor"],
                    "properties": {
                        "at": _TIME,
                        "factor": {"type": "number", "minimum": 0, "maximum": 10},
                    },
                },
            }
        },
    },
    "BaseLoadForecast": {
        "type": "object",
        "required": ["status", "learned_at", "plan_quantile", "quantiles", "slots"],
        "properties": {
            "status": {"type": "string", "description": "learned from what, or why not"},
            "learned_at": _TIME_OR_NULL,
            "plan_quantile": {"type": "number"},
            "quantiles": {"type": "array", "items": {"type": "number"}},
            "slots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["start", "factors"],
                    "properties": {
                        "start": _TIME,
                        "factors": {"type": "array", "items": {"type": "number"}},
                    },
                },
            },
        },
    },
    "Driver": {
        "type": "object",
        "required": ["driver_id", "name", "created_at", "blocked"],
        "properties": {
            "driver_id": {"type": "string"},
            "name": {"type": "string"},
            "created_at": _TIME,
            "blocked": {"type": "boolean"},
            "id_tokens": {"type": "array", "items": _ref("IdToken")},
        },
    },
    "Drivers": {
        "type": "object",
        "required": ["drivers"],
        "properties": {"drivers": {"type": "array", "items": _ref("Driver")}},
    },
    "DriverBody": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "driver_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
        },
    },
    "IdToken": {
        "type": "object",
        "required": ["type", "value"],
        "additionalProperties": False,
        "properties": {
            "type": {"enum": ["ISO14443", "Central", "eMAID"]},
            "value": {"type": "string", "minLength": 1, "maxLength": 64},
            "valid_from": _TIME,
            "valid_until": {"type": ["string", "null"], "format": "date-time"},
            "blocked": {"type": "boolean"},
        },
    },
    "DriverBills": {
        "type": "object",
        "required": ["bills"],
        "properties": {
            "bills": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["session_id", "net_due", "v2g_remuneration", "ledger"],
                },
            }
        },
    },
    "Refusals": {
        "type": "object",
        "required": ["refusals"],
        "properties": {"refusals": {"type": "array", "items": {"type": "object"}}},
    },
    "Reservation": {
        "type": "object",
        "required": [
            "reservation_id",
            "driver_id",
            "evse_id",
            "start",
            "end",
            "departure",
            "energy_wh",
            "v2g",
            "status",
        ],
        "properties": {
            "reservation_id": {"type": "string"},
            "driver_id": {"type": "string"},
            "evse_id": {"type": "string"},
            "start": _TIME,
            "end": _TIME,
            "departure": _TIME,
            "energy_wh": {"type": "number"},
            "v2g": {"type": "boolean"},
            "status": {"enum": ["booked", "used", "no_show", "cancelled"]},
        },
    },
    "Reservations": {
        "type": "object",
        "required": ["reservations"],
        "properties": {"reservations": {"type": "array", "items": _ref("Reservation")}},
    },
    "ReservationBody": {
        "type": "object",
        "description": "evse_id, or site: true for any free EVSE of the site; driver_id "
        "only from operators (a driver token books for its own driver)",
        "required": ["start", "end", "departure", "energy_wh"],
        "additionalProperties": False,
        "properties": {
            "driver_id": {"type": "string"},
            "evse_id": {"type": "string"},
            "site": {"type": "boolean"},
            "start": _TIME,
            "end": _TIME,
            "departure": _TIME,
            "energy_wh": {"type": "number", "minimum": 0, "maximum": 200000},
            "v2g": {"type": "boolean"},
        },
    },
    **STATION_SCHEMAS,
    "Command": {
        "description": "An operator override. set_fleet_cap: cap the fleet's net power "
        "(W, + = charging; null lifts it). set_prices: a new price curve (per kWh, step-wise).",
        "oneOf": [
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["command", "power_w"],
                "properties": {
                    "command": {"const": "set_fleet_cap"},
                    "power_w": _NUMBER_OR_NULL,
                },
            },
            {
                "type": "object",
                "additionalProperties": False,
                "required": ["command", "prices"],
                "properties": {
                    "command": {"const": "set_prices"},
                    "prices": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 2000,
                        "items": {
                            "type": "array",
                            "prefixItems": [_TIME, {"type": "number"}],
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    },
                },
            },
        ],
    },
    "Audit": {
        "type": "object",
        "required": ["commands"],
        "properties": {
            "commands": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "actor", "role", "command", "body", "accepted", "outcome"],
                    "properties": {
                        "at": _TIME,
                        "actor": {"type": "string"},
                        "role": {"type": "string"},
                        "command": {"type": "string"},
                        "body": {"type": "object"},
                        "accepted": {"type": "boolean"},
                        "outcome": {"type": "string"},
                    },
                },
            }
        },
    },
}


def _station_paths(limit: list[dict[str, Any]], missing: dict[str, Any]) -> dict[str, Any]:
    def path(*names: str) -> list[dict[str, Any]]:
        return [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in names
        ]

    station = f"{BASE}/stations/{{station_id}}"
    return {
        f"{BASE}/stations": {
            "get": _operation(
                "OCPP stations: online or not, their EVSEs and connector states",
                READ,
                {"200": _json("Stations", "stations")},
            )
        },
        station: {
            "parameters": path("station_id"),
            "get": _operation(
                "One station with its open transactions and latest status changes",
                READ,
                {"200": _json("StationDetail", "the station"), "404": missing},
            ),
        },
        f"{station}/transactions": {
            "parameters": path("station_id") + limit,
            "get": _operation(
                "The station's transactions, newest first",
                READ,
                {
                    "200": _json("Transactions", "transactions"),
                    "400": _problem("bad limit"),
                    "404": missing,
                },
            ),
        },
        f"{station}/transactions/{{transaction_id}}": {
            "parameters": path("station_id", "transaction_id"),
            "get": _operation(
                "One transaction with its TransactionEvents and meter values",
                READ,
                {"200": _json("TransactionDetail", "the transaction"), "404": missing},
            ),
        },
        f"{station}/operations": {
            "parameters": path("station_id"),
            "post": _operation(
                "A remote operation sent to the station over OCPP (audited)",
                COMMAND,
                {
                    "200": _json("OperationResult", "the station's answer"),
                    "404": _problem("no OCPP station of that id in the site"),
                    "409": _problem("the station is not connected"),
                    "502": _problem("the station refused the call (CALLERROR) or answered badly"),
                    "504": _problem("the station did not answer in time"),
                },
                body="Operation",
            ),
        },
    }


def _paths() -> dict[str, Any]:
    evse = [{"name": "evse_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    event = [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    session = [
        {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    limit = [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
        }
    ]
    missing = _problem("not found")
    driver = [{"name": "driver_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    reservation = [
        {"name": "reservation_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    usage = [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in [
            ("from", _TIME),
            ("to", _TIME),
            ("tz", {"type": "string", "default": "UTC"}),
            ("by", {"enum": ["evse", "hour"], "default": "evse"}),
        ]
    ]
    return {
        f"{BASE}/health": {
            "get": _operation("Liveness and the last cycle", None, {"200": _json("Health", "ok")})
        },
        f"{BASE}/openapi.json": {
            "get": _operation(
                "This document",
                None,
                {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            )
        },
        f"{BASE}/fleet": {
            "get": _operation(
                "Connected vehicles", READ, {"200": _json("Fleet", "the fleet"), "503": _NO_PLAN}
            )
        },
        f"{BASE}/fleet/{{evse_id}}": {
            "parameters": evse,
            "get": _operation(
                "One connected vehicle",
                READ,
                {"200": _json("FleetMember", "the vehicle"), "404": missing, "503": _NO_PLAN},
            ),
        },
        f"{BASE}/envelope": {
            "get": _operation(
                "The virtual-battery envelope over the horizon",
                READ,
                {"200": _json("Envelope", "the envelope"), "503": _NO_PLAN},
            )
        },
        f"{BASE}/plan": {
            "get": _operation(
                "The current dispatch plan",
                READ,
                {"200": _json("Plan", "the plan"), "503": _NO_PLAN},
            )
        },
        f"{BASE}/grid": {
            "get": _operation(
                "The feeder: the plan's AC verdict and recent history",
                READ,
                {"200": _json("Grid", "the grid"), "503": _NO_PLAN},
            )
        },
        f"{BASE}/dr-events": {
            "get": _operation(
                "Accepted DR events", DEMAND_RESPONSE, {"200": _json("DrEvents", "events")}
            ),
            "post": _operation(
                "Send a DR event",
                DEMAND_RESPONSE,
                {
                    "201": _json("Outcome", "accepted (new)"),
                    "200": _json(
                        "Outcome",
                        "replaced, the same revision again (accepted), or ignored "
                        "(accepted false, with why)",
                    ),
                    "503": _STORE_FAILED,
                },
                body="DrEventBody",
            ),
        },
        f"{BASE}/dr-events/{{event_id}}": {
            "parameters": event,
            "get": _operation(
                "One DR event",
                DEMAND_RESPONSE,
                {"200": _json("DrEvent", "the event"), "404": missing},
            ),
            "delete": _operation(
                "Cancel a DR event at once",
                DEMAND_RESPONSE,
                {"200": _json("Outcome", "cancelled"), "404": missing, "503": _STORE_FAILED},
            ),
        },
        f"{BASE}/sessions": {
            "parameters": limit,
            "get": _operation(
                "Charging sessions, newest first",
                READ,
                {"200": _json("Sessions", "sessions"), "400": _problem("bad limit")},
            ),
        },
        f"{BASE}/sessions/{{session_id}}": {
            "parameters": session,
            "get": _operation(
                "One session with its meter values",
                READ,
                {"200": _json("Session", "the session"), "404": missing},
            ),
        },
        f"{BASE}/usage": {
            "parameters": usage,
            "get": _operation(
                "Usage per EVSE, for the site and per hour of the week (JSON, or CSV with "
                "Accept: text/csv)",
                READ,
                {
                    "200": {
                        "description": "usage",
                        "content": {
                            "application/json": {"schema": _ref("Usage")},
                            "text/csv": {},
                        },
                    },
                    "400": _problem("bad from, to, tz or by"),
                },
            ),
        },
        f"{BASE}/flexibility": {
            "parameters": [
                {"name": "start", "in": "query", "required": True, "schema": _TIME},
                {"name": "end", "in": "query", "required": True, "schema": _TIME},
                {
                    "name": "confidence",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "number", "minimum": 0.5, "exclusiveMaximum": 1},
                },
            ],
            "get": _operation(
                "What the fleet can export or shed in a window (up to 24 h, starting within "
                "2 days), reached in every slot on a share `confidence` of similar days",
                DEMAND_RESPONSE,
                {"200": _json("Flexibility", "the offer"), "400": _problem("bad window")},
            ),
        },
        f"{BASE}/forecast/base-load": {
            "get": _operation(
                "The feeder's base load (factor of the network's own loads) per quarter hour "
                "for two days, as quantiles, learned every 6 h from the stored readings; the "
                "planner's grid rows take `plan_quantile`",
                DEMAND_RESPONSE,
                {"200": _json("BaseLoadForecast", "the forecast, or why there is none")},
            ),
        },
        f"{BASE}/feeder/base-load": {
            "post": _operation(
                "Store base-load readings (all or none; a reading at a stored moment replaces it)",
                COMMAND,
                {"200": _json("BaseLoadReadings", "stored"), "400": _problem("bad readings")},
                body="BaseLoadReadings",
            ),
        },
        f"{BASE}/forecast/sessions": {
            "parameters": [
                {
                    "name": "quantiles",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "example": "0.1,0.5,0.9"},
                },
            ],
            "get": _operation(
                "Arrivals per hour, dwell times and energy needs per hour of the week "
                "(0 = Monday 00:00 UTC) as quantiles, learned from the last 90 days of sessions",
                DEMAND_RESPONSE,
                {
                    "200": _json("SessionForecast", "the forecast"),
                    "400": _problem("bad quantiles"),
                },
            ),
        },
        f"{BASE}/tariffs": {
            "get": _operation(
                "The tariffs in force (the first is the site's default)",
                READ,
                {"200": _json("Tariffs", "tariffs")},
            ),
            "put": _operation(
                "Replace every tariff, all or nothing (audited)",
                COMMAND,
                {"200": _json("Tariffs", "now in force")},
                body="Tariffs",
            ),
        },
        f"{BASE}/cdrs": {
            "parameters": usage[:2],
            "get": _operation(
                "OCPI 2.2.1 CDRs of the sessions that ended between from and to "
                "(default the last 31 days, at most 92)",
                COMMAND,
                {"200": _json("Cdrs", "CDRs"), "400": _problem("bad from or to")},
            ),
        },
        f"{BASE}/drivers": {
            "get": _operation("Every driver", COMMAND, {"200": _json("Drivers", "drivers")}),
            "post": _operation(
                "Register a driver",
                COMMAND,
                {"201": _json("Driver", "registered"), "409": _problem("the id is taken")},
                body="DriverBody",
            ),
        },
        f"{BASE}/drivers/{{driver_id}}": {
            "parameters": driver,
            "get": _operation(
                "A driver with their tokens (a driver token: its own only)",
                OWN,
                {"200": _json("Driver", "the driver"), "404": missing},
            ),
        },
        f"{BASE}/drivers/{{driver_id}}/id-tokens": {
            "parameters": driver,
            "post": _operation(
                "Add a token to a driver, or change one it holds (validity, blocked)",
                COMMAND,
                {
                    "201": _json("IdToken", "added"),
                    "200": _json("IdToken", "changed"),
                    "404": missing,
                    "409": _problem("another driver holds the token"),
                },
                body="IdToken",
            ),
        },
        f"{BASE}/drivers/{{driver_id}}/bills": {
            "parameters": driver,
            "get": _operation(
                "A driver's bills with cost, V2G remuneration and settlement (a driver "
                "token: its own only)",
                OWN,
                {"200": _json("DriverBills", "bills")},
            ),
        },
        f"{BASE}/authorizations": {
            "get": _operation(
                "Refused tokens with their reason, newest first",
                COMMAND,
                {"200": _json("Refusals", "refusals")},
            ),
        },
        f"{BASE}/reservations": {
            "get": _operation(
                "Bookings (a driver token: its own)",
                OWN,
                {"200": _json("Reservations", "bookings")},
            ),
            "post": _operation(
                "Book an EVSE, or any free EVSE of the site, for a window",
                OWN,
                {
                    "201": _json("Reservation", "booked"),
                    "409": _problem("the EVSE (or every EVSE) is booked then"),
                },
                body="ReservationBody",
            ),
        },
        f"{BASE}/reservations/{{reservation_id}}": {
            "parameters": reservation,
            "get": _operation(
                "One booking (a driver token: its own)",
                OWN,
                {"200": _json("Reservation", "the booking"), "404": missing},
            ),
            "delete": _operation(
                "Cancel a booking still open",
                OWN,
                {
                    "200": _json("Outcome", "cancelled"),
                    "404": missing,
                    "409": _problem("no longer open"),
                },
            ),
        },
        **_station_paths(limit, missing),
        f"{BASE}/commands": {
            "get": _operation(
                "The command audit, newest first", COMMAND, {"200": _json("Audit", "audit")}
            ),
            "post": _operation(
                "An operator override (audited)",
                COMMAND,
                {"202": _json("Outcome", "taken"), "409": _json("Outcome", "refused, with why")},
                body="Command",
            ),
        },
        f"{BASE}/stream": {
            "get": _operation(
                "WebSocket of plan and fleet updates (one JSON message per snapshot; "
                "subprotocol v2g.stream; browsers pass the token as subprotocol bearer.TOKEN)",
                READ,
                {"101": {"description": "switching to WebSocket"}},
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus text exposition",
                READ,
                {"200": {"description": "metrics", "content": {"text/plain": {}}}},
            )
        },
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "v2g operator API",
            "version": "1",
            "description": "Power > 0 charges the vehicle, < 0 discharges it to the grid. "
            "Units: W, Wh, s, percent, pu; times ISO 8601 with a zone. Errors are "
            "application/problem+json (RFC 9457).",
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
