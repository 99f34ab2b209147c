"""Demand-response events as the utility sends them, validated once at intake."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from v2g.clock import require_aware

#: DR kinds (docs/scenario.md): deliver this much discharge power; cap the fleet's net
#: charging; reduce charging by this much against the plan without the event.
KINDS = ("export_w", "import_limit_w", "shed_w")
#: Largest DR value accepted as real: beyond it the event is a typo, not a request.
MAX_DR_VALUE_W = 1e9


class InvalidEvent(ValueError):
    """A DR event that cannot be right; the message names the field."""


#: Unicode categories an id may not contain: controls (newline, NUL), format
#: characters (right-to-left override, zero-width joiners), surrogates (SQLite cannot
#: store a lone one), private-use and unassigned code points, line and paragraph
#: separators. Such an id could forge or hide a log line, or fail to store.
_REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def unprintable_in(text: str) -> str | None:
    """The first character of ``text`` an id may not contain, as ``U+XXXX`` (None when
    every character is printable)."""
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None


@dataclass(frozen=True, slots=True)
class DemandResponseEvent:
    """A utility's request for ``kind`` with ``value`` in W from ``start`` to ``end``.

    ``modification_number`` orders revisions of the same ``id``: a higher number
    replaces the event, a lower or equal one is ignored.
    """

    id: str
    start: datetime
    end: datetime
    kind: str
    value_w: float
    modification_number: int = 0

    def __post_init__(self) -> None:
        if not self.id or not self.id.strip():
            raise InvalidEvent("id: must be a non-empty string")
        bad = unprintable_in(self.id)
        if bad is not None:
            raise InvalidEvent(
                f"id: contains {bad} (control, format or unassigned characters are refused)"
            )
        for name in ("start", "end"):
            try:
                require_aware(getattr(self, name), name)
            except ValueError as error:
                raise InvalidEvent(f"{name}: {error}") from None
        if self.end <= self.start:
            raise InvalidEvent(
                f"end: {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        if self.kind not in KINDS:
            raise InvalidEvent(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        if isinstance(self.value_w, bool) or not (
            math.isfinite(self.value_w) and 0 <= self.value_w <= MAX_DR_VALUE_W
        ):
            raise InvalidEvent(
                f"value: must be a number within 0..{MAX_DR_VALUE_W:g} W, got {self.value_w}"
            )
        if isinstance(self.modification_number, bool) or self.modification_number < 0:
            raise InvalidEvent(
                f"modification_number: must be an integer >= 0, got {self.modification_number}"
            )

    @property
    def source(self) -> str:
        """How limits set by this event name it ("dr evt-42 rev 3")."""
        return f"dr {self.id} rev {self.modification_number}"

    def active_at(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def status_at(self, moment: datetime) -> str:
        """``pending``, ``active`` or ``ended`` at ``moment`` (as the API shows it)."""
        if moment >= self.end:
            return "ended"
        return "active" if self.active_at(moment) else "pending"
