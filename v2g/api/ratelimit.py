"""Requests per token: a token bucket each, so one client (a stuck script, a leaked
token) cannot take the API from the others.

Buckets are kept per token id, and only for tokens already found valid, so unknown
tokens cannot grow the table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``burst`` requests at once, refilled at ``requests_per_s`` (``[api]`` in the
    site file). The defaults are far above what the dashboard or a utility's client
    sends and far below what holds the control cycle back."""

    requests_per_s: float = 50.0
    burst: int = 200

    def __post_init__(self) -> None:
        if not (self.requests_per_s > 0 and math.isfinite(self.requests_per_s)):
            raise ValueError(f"requests_per_s must be above 0, got {self.requests_per_s!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")


class TokenBuckets:
    """One bucket per key; ``take`` spends a request or says how long to wait."""

    def __init__(self, limit: RateLimit, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (requests left, when)

    def take(self, key: str) -> float:
        """0 if the request may go; else the seconds until one may."""
        now = self._monotonic()
        left, then = self._buckets.get(key, (float(self.limit.burst), now))
        left = min(float(self.limit.burst), left + (now - then) * self.limit.requests_per_s)
        if left < 1.0:
            self._buckets[key] = (left, now)
            return (1.0 - left) / self.limit.requests_per_s
        self._buckets[key] = (left - 1.0, now)
        return 0.0
