"""The two errors of the EXI codec: one for streams, one for messages."""

from __future__ import annotations


class ExiDecodeError(ValueError):
    """The bytes are not a valid EXI stream for the schema (truncated, corrupt or
    using an event this codec does not support)."""


class ExiEncodeError(ValueError):
    """The message does not fit the schema (unknown or missing element, bad value)."""
