"""The V2G Transfer Protocol (V2GTP) header as the SECC checks it on TCP and TLS: pure
rules, no I/O (the reader that applies them is ``v2g.secc.framed_reader``).

A V2GTP message is an 8-byte header (version 0x01, its inverse 0xFE, a 16-bit payload
type, a 32-bit payload length, big-endian) and then exactly that many payload bytes
(DIN SPEC 70121 §8.7.3, ISO 15118-2:2014 §7.8.3, ISO 15118-20:2022 §7.8.3). TCP is a
byte stream: a message may arrive in any number of segments, and one segment may carry
several messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

HEADER_BYTES = 8
VERSION = 0x01
INVERSE_VERSION = 0xFE

#: SupportedAppProtocol and every DIN SPEC 70121 / ISO 15118-2 message (DIN Table 16,
#: -2 Table 10 "EXI encoded V2G message"); the SAP of an ISO 15118-20 session too.
EXI_V2G_MESSAGE = 0x8001
#: ISO 15118-20 Table 12: one payload type per schema the EV's request is encoded in.
MAINSTREAM_20 = 0x8002  # CommonMessages
AC_MAINSTREAM_20 = 0x8003
DC_MAINSTREAM_20 = 0x8004
ACDP_MAINSTREAM_20 = 0x8005
WPT_MAINSTREAM_20 = 0x8006

#: The largest EV request (bytes of EXI) accepted per payload type. Generous bounds from
#: the schemas' largest requests, not from the messages seen in tests:
#: - SAP: up to 20 AppProtocol entries of a 100-character namespace each (~2.3 KB);
#: - DIN / -2: CertificateInstallationReq / CertificateUpdateReq carry an 800-byte
#:   certificate chain, a signature and up to 20 root certificate ids (~5 KB);
#: - -20 CommonMessages: PowerDeliveryReq may carry 2,048 EVPowerProfile entries and
#:   CertificateInstallationReq a chain of up to 4 certificates of 1,600 bytes;
#: - -20 AC / DC / ACDP / WPT: charge-parameter and charge-loop requests, without
#:   certificates or schedules (a few hundred bytes).
SAP_BOUND_BYTES = 4 * 1024
V2_BOUND_BYTES = 16 * 1024
V20_COMMON_BOUND_BYTES = 64 * 1024
V20_ENERGY_BOUND_BYTES = 8 * 1024


class Phase(Enum):
    """What the SECC expects on a connection: the SupportedAppProtocol handshake, or the
    messages of the protocol it agreed."""

    HANDSHAKE = "SupportedAppProtocol"
    DIN = "DIN SPEC 70121"
    ISO_2 = "ISO 15118-2"
    ISO_20 = "ISO 15118-20"

    def bounds(self) -> dict[int, int]:
        """The payload types the EV may send in this phase, each with its largest
        payload in bytes."""
        if self is Phase.HANDSHAKE:
            return {EXI_V2G_MESSAGE: SAP_BOUND_BYTES}
        if self is Phase.ISO_20:
            return {
                MAINSTREAM_20: V20_COMMON_BOUND_BYTES,
                AC_MAINSTREAM_20: V20_ENERGY_BOUND_BYTES,
                DC_MAINSTREAM_20: V20_ENERGY_BOUND_BYTES,
                ACDP_MAINSTREAM_20: V20_ENERGY_BOUND_BYTES,
                WPT_MAINSTREAM_20: V20_ENERGY_BOUND_BYTES,
            }
        return {EXI_V2G_MESSAGE: V2_BOUND_BYTES}

    def largest_bytes(self) -> int:
        """The largest payload in bytes of any payload type this phase accepts."""
        return max(self.bounds().values())


@dataclass(frozen=True, slots=True)
class Header:
    """A checked V2GTP header: the payload type and the payload's length in bytes."""

    payload_type: int
    payload_length: int

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 0xFFFF:
            raise ValueError(f"payload type {self.payload_type} does not fit 16 bits")
        if not 0 <= self.payload_length <= 0xFFFF_FFFF:
            raise ValueError(f"payload length {self.payload_length} does not fit 32 bits")

    def encode(self) -> bytes:
        """The header's 8 bytes on the wire."""
        return (
            bytes((VERSION, INVERSE_VERSION))
            + self.payload_type.to_bytes(2, "big")
            + self.payload_length.to_bytes(4, "big")
        )


class FrameRefused(ValueError):
    """A V2GTP header the SECC does not accept in this phase. ``skippable``: the frame's
    length can be trusted and is within bounds, so its payload can be read and ignored
    and the next message follows it; otherwise the stream's framing is lost."""

    def __init__(self, problem: str, *, skippable: bool, header: Header | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.skippable = skippable
        self.header = header


def frame(payload_type: int, payload: bytes) -> bytes:
    """A whole V2GTP message: header and ``payload``."""
    return Header(payload_type, len(payload)).encode() + payload


#: The first four bytes of every SupportedAppProtocolReq frame: version, inverse, 0x8001.
HANDSHAKE_START = bytes((VERSION, INVERSE_VERSION)) + EXI_V2G_MESSAGE.to_bytes(2, "big")


def may_start_handshake(first: bytes) -> bool:
    """Whether the first bytes a connection sent can begin a SupportedAppProtocolReq
    frame (the EV's first message on TCP, DIN §9.1 / -2 §8.1 / -20 §8.1), however
    few of them arrived yet."""
    head = first[: len(HANDSHAKE_START)]
    return bool(head) and HANDSHAKE_START.startswith(head)


def check_header(data: bytes, phase: Phase) -> Header:
    """The header in the 8 bytes of ``data`` if the SECC accepts it in ``phase``; raises
    ``FrameRefused`` otherwise.

    The standards' header handler (-2 §7.8.3.2, -20 §7.8.3 Figure 11): a header with wrong
    data (version, payload type, payload length) is ignored, no response exists for it.
    A wrong version means the bytes are not a V2GTP header at all, so the framing of the
    stream is lost; an unknown payload type with a plausible length can be skipped.
    """
    if len(data) != HEADER_BYTES:
        raise ValueError(f"a V2GTP header is {HEADER_BYTES} bytes, not {len(data)}")
    if data[0] != VERSION or data[1] != INVERSE_VERSION:
        raise FrameRefused(
            f"not a V2GTP header (version 0x{data[0]:02X}, inverse 0x{data[1]:02X}; "
            f"expected 0x{VERSION:02X}, 0x{INVERSE_VERSION:02X})",
            skippable=False,
        )
    header = Header(int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:8], "big"))
    bounds = phase.bounds()
    bound = bounds.get(header.payload_type)
    if bound is None:
        known = ", ".join(f"0x{t:04X}" for t in bounds)
        raise FrameRefused(
            f"payload type 0x{header.payload_type:04X} is not one of {phase.value} ({known}); "
            f"{header.payload_length} bytes ignored",
            skippable=header.payload_length <= phase.largest_bytes(),
            header=header,
        )
    if header.payload_length == 0:
        # No EXI stream is empty: a zero length is "wrong payload length", ignored.
        raise FrameRefused(
            f"empty payload of type 0x{header.payload_type:04X} ignored",
            skippable=True,
            header=header,
        )
    if header.payload_length > bound:
        raise FrameRefused(
            f"payload of {header.payload_length} bytes exceeds the {bound} bytes a "
            f"{phase.value} message of type 0x{header.payload_type:04X} may have",
            skippable=False,
            header=header,
        )
    return header
