"""The e-mobility account identifier (EMAID) a contract certificate carries as its CN.

ISO 15118-2 Annex H (after DIN SPEC 91286): country code (2 letters), provider ID
(3 alphanumerics), eMA instance (9 alphanumerics), optionally a check digit; 14 or 15
characters, optionally written with ``-`` separators, compared case-insensitively.
"""

from __future__ import annotations

import re

_EMAID = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}[A-Z0-9]{9}[A-Z0-9]?$")
_WRITTEN = re.compile(r"^[A-Za-z]{2}-?[A-Za-z0-9]{3}-?[A-Za-z0-9]{9}(-?[A-Za-z0-9])?$")


class EmaidError(ValueError):
    """A string that is not an EMAID; the message says why."""


def normalise_emaid(text: str) -> str:
    """The EMAID in its normal form (upper case, no separators), or EmaidError.

    The check digit's value is not verified: the standard makes it optional and the
    contract certificate's signature, not the digit, is what authenticates it.
    """
    if not _WRITTEN.match(text):
        raise EmaidError(
            f"{text!r} is not an EMAID: expected country (2 letters), provider (3), "
            "instance (9) and an optional check character, e.g. DE8AACA2B3C4D5N"
        )
    emaid = text.replace("-", "").upper()
    if not _EMAID.match(emaid):  # pragma: no cover - implied by _WRITTEN
        raise EmaidError(f"{text!r} is not an EMAID")
    return emaid
