"""Bit-packed EXI streams (EXI 1.0 section 7.1.9 and 7.1.6): a reader and a writer
that move multi-bit fields with integer operations instead of bit by bit."""

from __future__ import annotations

from typing import Final


class ExiDecodeError(ValueError):
    """The bytes are not a valid EXI stream for the schema (truncated, corrupt or
    using an event this codec does not support)."""


class ExiEncodeError(ValueError):
    """The message does not fit the schema (unknown or missing element, bad value)."""


#: The longest unsigned integer accepted, in octets: 2**70 covers xs:unsignedLong.
MAX_UNSIGNED_OCTETS: Final = 10


class BitReader:
    """Reads fields most significant bit first from a byte string."""

    __slots__ = ("_data", "_limit", "position")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._limit = len(data) * 8
        self.position = 0

    def remaining(self) -> int:
        """Bits left in the stream."""
        return self._limit - self.position

    def read(self, width: int) -> int:
        """The next ``width`` bits as an unsigned integer."""
        start = self.position
        end = start + width
        if end > self._limit:
            raise ExiDecodeError(f"stream ends inside a field at bit {start}")
        self.position = end
        last = (end + 7) >> 3
        chunk = int.from_bytes(self._data[start >> 3 : last], "big")
        return (chunk >> ((last << 3) - end)) & ((1 << width) - 1)

    def read_unsigned(self) -> int:
        """EXI 7.1.6: seven bits per octet, least significant group first."""
        value = 0
        shift = 0
        for _ in range(MAX_UNSIGNED_OCTETS):
            octet = self.read(8)
            value |= (octet & 0x7F) << shift
            if octet < 0x80:
                return value
            shift += 7
        raise ExiDecodeError("unsigned integer longer than 10 octets")

    def read_octets(self, count: int) -> bytes:
        """``count`` octets (not byte aligned in bit-packed streams)."""
        if count * 8 > self.remaining():
            raise ExiDecodeError(f"stream ends inside a {count}-octet value")
        if count == 0:
            return b""
        return self.read(count * 8).to_bytes(count, "big")


class BitWriter:
    """Writes fields most significant bit first; ``getvalue`` pads with zero bits."""

    __slots__ = ("_bits", "_out", "_pending")

    def __init__(self) -> None:
        self._out = bytearray()
        self._pending = 0
        self._bits = 0

    def write(self, value: int, width: int) -> None:
        """``value`` as a ``width``-bit unsigned integer."""
        self._pending = (self._pending << width) | value
        self._bits += width
        if self._bits > 512:
            spare = self._bits & 7
            whole = self._bits >> 3
            self._out += (self._pending >> spare).to_bytes(whole, "big")
            self._pending &= (1 << spare) - 1
            self._bits = spare

    def write_unsigned(self, value: int) -> None:
        """EXI 7.1.6: seven bits per octet, least significant group first."""
        if value < 0x80:
            self.write(value, 8)
            return
        packed = 0
        octets = 0
        while value >= 0x80:
            packed = (packed << 8) | 0x80 | (value & 0x7F)
            value >>= 7
            octets += 1
        self.write((packed << 8) | value, (octets + 1) * 8)

    def write_octets(self, data: bytes) -> None:
        if data:
            self.write(int.from_bytes(data, "big"), len(data) * 8)

    def getvalue(self) -> bytes:
        padding = -self._bits & 7
        tail = (self._pending << padding).to_bytes((self._bits + padding) >> 3, "big")
        return bytes(self._out) + tail
