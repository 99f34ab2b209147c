"""Drivers: their identification tokens, who may charge, and their bookings. Pure
(the store and the API are the edges)."""

from v2g.drivers.reservations import (
    BOOKED,
    CANCELLED,
    NO_SHOW,
    USED,
    Reservation,
    ReservationRequest,
    free_evse,
    problems,
    released,
)
from v2g.drivers.tokens import (
    ACCEPTED,
    BLOCKED,
    EXPIRED,
    INVALID,
    TOKEN_TYPES,
    UNKNOWN,
    Decision,
    IdTokenRecord,
    TokenError,
    decide,
    driver_id_of,
    normalised,
)

__all__ = [
    "ACCEPTED",
    "BLOCKED",
    "BOOKED",
    "CANCELLED",
    "EXPIRED",
    "INVALID",
    "NO_SHOW",
    "TOKEN_TYPES",
    "UNKNOWN",
    "USED",
    "Decision",
    "IdTokenRecord",
    "Reservation",
    "ReservationRequest",
    "TokenError",
    "decide",
    "driver_id_of",
    "free_evse",
    "normalised",
    "problems",
    "released",
]
