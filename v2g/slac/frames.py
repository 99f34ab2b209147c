"""HomePlug Green PHY management messages (MMEs) used by SLAC, as bytes and back.

ISO 15118-3 Annex A carries SLAC in HomePlug AV/Green PHY MMEs: an Ethernet frame with
Ethertype 0x88E1, a one-byte MM version, a little-endian MMTYPE (base | REQ/CNF/IND/RSP)
and, for MM version 1, two fragmentation bytes. The payload layouts below follow the
field tables of ISO 15118-3 (Table A.2 and following) and, for CM_SET_KEY, HomePlug AV
1.1 section 11.5. Multi-byte integers are little endian; identifiers (RunID, nonces,
NID, NMK) are opaque byte strings kept in wire order.

Pure: no sockets, no clock. ``encode_frame`` pads to the 60-byte Ethernet minimum;
``decode_frame`` ignores that padding and raises ``FrameError`` for anything malformed.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Self

ETHERTYPE_HOMEPLUG = 0x88E1
#: HomePlug AV 1.1 / Green PHY management message version; carries FMI bytes.
MM_VERSION = 0x01
BROADCAST_MAC = b"\xff" * 6
#: Ethernet frames are at least 60 bytes before the FCS; shorter MMEs are zero padded.
MIN_FRAME_BYTES = 60
HEADER_BYTES = 14 + 1 + 2 + 2

MAC_BYTES = 6
RUN_ID_BYTES = 8
ID_BYTES = 17  # SENDER_ID, SOURCE_ID, RESP_ID, PEV ID, EVSE ID: 17 octets each
NID_BYTES = 7
NMK_BYTES = 16
NONCE_BYTES = 4
#: Attenuation groups in CM_ATTEN_PROFILE.IND / CM_ATTEN_CHAR.IND (ISO 15118-3 A.9.2).
ATTEN_GROUPS = 58

#: APPLICATION_TYPE 0x00: PEV-EVSE association; SECURITY_TYPE 0x00: no security.
APPLICATION_PEV_EVSE = 0x00
SECURITY_NONE = 0x00
#: RESP_TYPE 0x01: the EV's results go to another Green PHY station (the EVSE host).
RESP_TYPE_OTHER_STATION = 0x01
ZERO_ID = bytes(ID_BYTES)

REQ, CNF, IND, RSP = 0, 1, 2, 3
CM_SET_KEY = 0x6008
CM_SLAC_PARM = 0x6064
CM_START_ATTEN_CHAR = 0x6068
CM_ATTEN_CHAR = 0x606C
CM_MNBC_SOUND = 0x6074
CM_VALIDATE = 0x6078
CM_SLAC_MATCH = 0x607C
CM_ATTEN_PROFILE = 0x6084


class FrameError(ValueError):
    """Bytes that are not a well-formed SLAC MME (wrong Ethertype, short, bad field)."""


def mac_text(mac: bytes) -> str:
    """``02:00:00:00:00:01`` for six bytes."""
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """Six bytes from ``aa:bb:cc:dd:ee:ff``; ValueError otherwise."""
    parts = text.split(":")
    if len(parts) != MAC_BYTES or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def _check_len(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise FrameError(f"{name} must be {size} bytes, got {len(value)}")


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise FrameError(f"{name} must fit one byte (0..255), got {value}")


#: Field-table names that are not dataclass fields: zeros on the wire (ignored when
#: read), the number of attenuation groups (the groups follow the fixed fields), and
#: the class's MVFLength (any other value is refused when read).
_RESERVED = ""
_GROUP_COUNT = "#groups"
_MVF_LENGTH = "#mvf"
_GROUPS_FIELD = "groups_db"

#: A payload layout: (field name or one of the names above, struct code), in wire order.
_Layout = tuple[tuple[str, str], ...]


def _check_groups(groups: tuple[int, ...]) -> None:
    if not groups or len(groups) > 0xFF:
        raise FrameError(f"an attenuation profile has 1..255 groups, got {len(groups)}")
    for value in groups:
        _check_byte("attenuation group (dB)", value)


class _Laid:
    """Payload bytes, parsing and field checks from a message's ``LAYOUT`` table, so
    each message states only its fields: every ``Ns`` field must be N bytes long and
    every field named in ``CHECKED_BYTES`` must fit one byte."""

    __slots__ = ()
    NAME: ClassVar[str]
    LAYOUT: ClassVar[_Layout]
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ()
    MVF_BYTES: ClassVar[int] = 0

    def __post_init__(self) -> None:
        for name, code in self.LAYOUT:
            if name and not name.startswith("#") and code.endswith("s"):
                _check_len(name, getattr(self, name), int(code[:-1]))
        for name in self.CHECKED_BYTES:
            _check_byte(name, getattr(self, name))
        if self._has_groups():
            _check_groups(self._groups())

    @classmethod
    def _has_groups(cls) -> bool:
        return any(name == _GROUP_COUNT for name, _code in cls.LAYOUT)

    def _groups(self) -> tuple[int, ...]:
        groups: tuple[int, ...] = getattr(self, _GROUPS_FIELD)
        return groups

    @classmethod
    def _format(cls) -> str:
        return "<" + "".join(code for _name, code in cls.LAYOUT)

    def _wire_value(self, name: str, code: str) -> object:
        if name == _RESERVED:
            return bytes(int(code[:-1])) if code.endswith("s") else 0
        if name == _GROUP_COUNT:
            return len(self._groups())
        if name == _MVF_LENGTH:
            return self.MVF_BYTES
        return getattr(self, name)

    def payload(self) -> bytes:
        data = struct.pack(self._format(), *(self._wire_value(n, c) for n, c in self.LAYOUT))
        if self._has_groups():
            data += bytes(self._groups())
        return data

    @classmethod
    def parse(cls, data: bytes) -> Self:
        values = dict(
            zip((n for n, _c in cls.LAYOUT), struct.unpack_from(cls._format(), data), strict=True)
        )
        values.pop(_RESERVED, None)
        mvf = values.pop(_MVF_LENGTH, cls.MVF_BYTES)
        if mvf != cls.MVF_BYTES:
            raise FrameError(f"{cls.NAME} MVFLength must be {cls.MVF_BYTES}, got {mvf}")
        if cls._has_groups():
            count = values.pop(_GROUP_COUNT)
            start = struct.calcsize(cls._format())
            groups = data[start : start + count]
            if len(groups) != count:
                raise FrameError(f"{cls.NAME} announces {count} groups, has {len(groups)}")
            values[_GROUPS_FIELD] = tuple(groups)
        build: Callable[..., Self] = cls
        return build(**values)


@dataclass(frozen=True, slots=True)
class SlacParmReq(_Laid):
    """CM_SLAC_PARM.REQ: the EV asks every EVSE in reach to start a matching run."""

    MMTYPE: ClassVar[int] = CM_SLAC_PARM | REQ
    NAME: ClassVar[str] = "CM_SLAC_PARM.REQ"
    LAYOUT: ClassVar[_Layout] = (
        ("application_type", "B"),
        ("security_type", "B"),
        ("run_id", "8s"),
    )
    run_id: bytes
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class SlacParmCnf(_Laid):
    """CM_SLAC_PARM.CNF: the EVSE's sounding parameters for this run."""

    MMTYPE: ClassVar[int] = CM_SLAC_PARM | CNF
    NAME: ClassVar[str] = "CM_SLAC_PARM.CNF"
    LAYOUT: ClassVar[_Layout] = (
        ("m_sound_target", "6s"),
        ("num_sounds", "B"),
        ("time_out_100ms", "B"),
        ("resp_type", "B"),
        ("forwarding_sta", "6s"),
        ("application_type", "B"),
        ("security_type", "B"),
        ("run_id", "8s"),
    )
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("num_sounds", "time_out_100ms")
    forwarding_sta: bytes  # the EV's MAC: where CM_ATTEN_CHAR results go
    run_id: bytes
    num_sounds: int
    time_out_100ms: int
    m_sound_target: bytes = BROADCAST_MAC
    resp_type: int = RESP_TYPE_OTHER_STATION
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class StartAttenCharInd(_Laid):
    """CM_START_ATTEN_CHAR.IND: the EV is about to send its M-Sounds."""

    MMTYPE: ClassVar[int] = CM_START_ATTEN_CHAR | IND
    NAME: ClassVar[str] = "CM_START_ATTEN_CHAR.IND"
    LAYOUT: ClassVar[_Layout] = (
        ("application_type", "B"),
        ("security_type", "B"),
        ("num_sounds", "B"),
        ("time_out_100ms", "B"),
        ("resp_type", "B"),
        ("forwarding_sta", "6s"),
        ("run_id", "8s"),
    )
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("num_sounds", "time_out_100ms")
    num_sounds: int
    time_out_100ms: int
    forwarding_sta: bytes
    run_id: bytes
    resp_type: int = RESP_TYPE_OTHER_STATION
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class MnbcSoundInd(_Laid):
    """CM_MNBC_SOUND.IND: one M-Sound; ``count`` says how many are still to come."""

    MMTYPE: ClassVar[int] = CM_MNBC_SOUND | IND
    NAME: ClassVar[str] = "CM_MNBC_SOUND.IND"
    LAYOUT: ClassVar[_Layout] = (
        ("application_type", "B"),
        ("security_type", "B"),
        ("sender_id", "17s"),
        ("count", "B"),
        ("run_id", "8s"),
        (_RESERVED, "8s"),
        ("random", "16s"),
    )
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("count",)
    count: int
    run_id: bytes
    random: bytes = bytes(16)
    sender_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class AttenProfileInd(_Laid):
    """CM_ATTEN_PROFILE.IND: the local modem's attenuation (dB per carrier group) of one
    M-Sound from ``pev_mac``; sent by the EVSE's own modem to its host."""

    MMTYPE: ClassVar[int] = CM_ATTEN_PROFILE | IND
    NAME: ClassVar[str] = "CM_ATTEN_PROFILE.IND"
    LAYOUT: ClassVar[_Layout] = (
        ("pev_mac", "6s"),
        (_GROUP_COUNT, "B"),
        (_RESERVED, "B"),
    )
    pev_mac: bytes
    groups_db: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AttenCharInd(_Laid):
    """CM_ATTEN_CHAR.IND: the EVSE's averaged attenuation profile, sent to the EV."""

    MMTYPE: ClassVar[int] = CM_ATTEN_CHAR | IND
    NAME: ClassVar[str] = "CM_ATTEN_CHAR.IND"
    LAYOUT: ClassVar[_Layout] = (
        ("application_type", "B"),
        ("security_type", "B"),
        ("source_address", "6s"),
        ("run_id", "8s"),
        ("source_id", "17s"),
        ("resp_id", "17s"),
        ("num_sounds", "B"),
        (_GROUP_COUNT, "B"),
    )
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("num_sounds",)
    source_address: bytes  # the EV's MAC
    run_id: bytes
    num_sounds: int
    groups_db: tuple[int, ...]
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class AttenCharRsp(_Laid):
    """CM_ATTEN_CHAR.RSP: the EV acknowledges one EVSE's attenuation profile."""

    MMTYPE: ClassVar[int] = CM_ATTEN_CHAR | RSP
    NAME: ClassVar[str] = "CM_ATTEN_CHAR.RSP"
    LAYOUT: ClassVar[_Layout] = (
        ("application_type", "B"),
        ("security_type", "B"),
        ("source_address", "6s"),
        ("run_id", "8s"),
        ("source_id", "17s"),
        ("resp_id", "17s"),
        ("result", "B"),
    )
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("result",)
    source_address: bytes
    run_id: bytes
    result: int = 0  # 0x00 success
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


#: MatchVarField lengths: PEV ID, PEV MAC, EVSE ID, EVSE MAC, RunID, 8 reserved (62);
#: the CNF adds NID, one reserved byte and NMK (86).
MATCH_REQ_MVF_BYTES = 62
MATCH_CNF_MVF_BYTES = 86
_MATCH_LAYOUT: _Layout = (
    ("application_type", "B"),
    ("security_type", "B"),
    (_MVF_LENGTH, "H"),
    ("pev_id", "17s"),
    ("pev_mac", "6s"),
    ("evse_id", "17s"),
    ("evse_mac", "6s"),
    ("run_id", "8s"),
    (_RESERVED, "8s"),
)


@dataclass(frozen=True, slots=True)
class SlacMatchReq(_Laid):
    """CM_SLAC_MATCH.REQ: the EV picked this EVSE (unicast to it)."""

    MMTYPE: ClassVar[int] = CM_SLAC_MATCH | REQ
    NAME: ClassVar[str] = "CM_SLAC_MATCH.REQ"
    LAYOUT: ClassVar[_Layout] = _MATCH_LAYOUT
    MVF_BYTES: ClassVar[int] = MATCH_REQ_MVF_BYTES
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


@dataclass(frozen=True, slots=True)
class SlacMatchCnf(_Laid):
    """CM_SLAC_MATCH.CNF: the EVSE hands the EV the key of its logical network."""

    MMTYPE: ClassVar[int] = CM_SLAC_MATCH | CNF
    NAME: ClassVar[str] = "CM_SLAC_MATCH.CNF"
    LAYOUT: ClassVar[_Layout] = (
        *_MATCH_LAYOUT,
        ("nid", "7s"),
        (_RESERVED, "B"),
        ("nmk", "16s"),
    )
    MVF_BYTES: ClassVar[int] = MATCH_CNF_MVF_BYTES
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes = field(repr=False)
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE


#: CM_SET_KEY.REQ KeyType 0x01: the NMK (AES-128); PID 0x04: HLE protocol.
KEY_TYPE_NMK = 0x01
PID_HLE = 0x04
#: The fields CM_SET_KEY.REQ and .CNF share after their first byte.
_SET_KEY_LAYOUT: _Layout = (
    ("my_nonce", "4s"),
    ("your_nonce", "4s"),
    ("pid", "B"),
    ("prn", "H"),
    ("pmn", "B"),
    ("cco_capability", "B"),
)


@dataclass(frozen=True, slots=True)
class SetKeyReq(_Laid):
    """CM_SET_KEY.REQ (HomePlug AV 11.5.4): the EVSE host gives its own modem the NMK
    and NID of the logical network the EV will join."""

    MMTYPE: ClassVar[int] = CM_SET_KEY | REQ
    NAME: ClassVar[str] = "CM_SET_KEY.REQ"
    LAYOUT: ClassVar[_Layout] = (
        ("key_type", "B"),
        *_SET_KEY_LAYOUT,
        ("nid", "7s"),
        ("new_eks", "B"),
        ("nmk", "16s"),
    )
    nid: bytes
    nmk: bytes = field(repr=False)
    my_nonce: bytes = bytes(NONCE_BYTES)
    your_nonce: bytes = bytes(NONCE_BYTES)
    key_type: int = KEY_TYPE_NMK
    pid: int = PID_HLE
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0
    new_eks: int = 0x01


@dataclass(frozen=True, slots=True)
class SetKeyCnf(_Laid):
    """CM_SET_KEY.CNF: the modem took the key (``result`` 0x00) or refused it."""

    MMTYPE: ClassVar[int] = CM_SET_KEY | CNF
    NAME: ClassVar[str] = "CM_SET_KEY.CNF"
    LAYOUT: ClassVar[_Layout] = (("result", "B"), *_SET_KEY_LAYOUT)
    CHECKED_BYTES: ClassVar[tuple[str, ...]] = ("result",)
    result: int
    my_nonce: bytes = bytes(NONCE_BYTES)
    your_nonce: bytes = bytes(NONCE_BYTES)
    pid: int = PID_HLE
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0

    @property
    def succeeded(self) -> bool:
        return self.result == 0


Message = (
    SlacParmReq
    | SlacParmCnf
    | StartAttenCharInd
    | MnbcSoundInd
    | AttenProfileInd
    | AttenCharInd
    | AttenCharRsp
    | SlacMatchReq
    | SlacMatchCnf
    | SetKeyReq
    | SetKeyCnf
)
_BY_MMTYPE: dict[int, type[Message]] = {
    kind.MMTYPE: kind
    for kind in (
        SlacParmReq,
        SlacParmCnf,
        StartAttenCharInd,
        MnbcSoundInd,
        AttenProfileInd,
        AttenCharInd,
        AttenCharRsp,
        SlacMatchReq,
        SlacMatchCnf,
        SetKeyReq,
        SetKeyCnf,
    )
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One MME on the wire: Ethernet addresses and the message."""

    destination: bytes
    source: bytes
    message: Message

    def __post_init__(self) -> None:
        _check_len("destination", self.destination, MAC_BYTES)
        _check_len("source", self.source, MAC_BYTES)


def encode_frame(frame: Frame) -> bytes:
    """The Ethernet frame (without FCS), zero padded to 60 bytes."""
    # The Ethertype is big endian (network order), the MMTYPE little endian; FMI 0x0000:
    # one unfragmented MME.
    ethertype = struct.pack("!H", ETHERTYPE_HOMEPLUG)
    mm_header = struct.pack("<BHH", MM_VERSION, frame.message.MMTYPE, 0)
    data = frame.destination + frame.source + ethertype + mm_header + frame.message.payload()
    return data + bytes(max(0, MIN_FRAME_BYTES - len(data)))


def peek_mmtype(data: bytes) -> int | None:
    """The MMTYPE of a HomePlug MME, or None for other Ethernet frames."""
    if len(data) < HEADER_BYTES:
        return None
    if struct.unpack_from("!H", data, 12)[0] != ETHERTYPE_HOMEPLUG:
        return None
    return int(struct.unpack_from("<H", data, 15)[0])


def decode_frame(data: bytes) -> Frame:
    """A Frame from Ethernet bytes; FrameError for another Ethertype, an MM version other
    than 1, an MMTYPE SLAC does not use, or a payload too short for its fields."""
    mmtype = peek_mmtype(data)
    if mmtype is None:
        raise FrameError(f"not a HomePlug MME ({len(data)} bytes)")
    if data[14] != MM_VERSION:
        raise FrameError(f"MM version {data[14]} is not {MM_VERSION} (HomePlug Green PHY)")
    kind = _BY_MMTYPE.get(mmtype)
    if kind is None:
        raise FrameError(f"MMTYPE 0x{mmtype:04x} is not a SLAC message")
    try:
        message = kind.parse(data[HEADER_BYTES:])
    except struct.error as error:
        raise FrameError(f"{kind.__name__} too short: {error}") from error
    return Frame(data[0:6], data[6:12], message)


def nid_from_nmk(nmk: bytes, security_level: int = 0) -> bytes:
    """The 54-bit Network ID for ``nmk`` (HomePlug AV 1.1, 4.4.3.1): SHA-256 applied five
    times, the first 7 bytes kept, the last byte's high nibble shifted down and the
    security level (0: simple connect) put in bits 4-5."""
    _check_len("nmk", nmk, NMK_BYTES)
    if security_level not in (0, 1):
        raise FrameError(f"security level must be 0 or 1, got {security_level}")
    digest = nmk
    for _ in range(5):
        digest = hashlib.sha256(digest).digest()
    last = (digest[NID_BYTES - 1] >> 4) | (security_level << 4)
    return digest[: NID_BYTES - 1] + bytes([last])
