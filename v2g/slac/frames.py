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
from dataclasses import dataclass, field
from typing import ClassVar

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


@dataclass(frozen=True, slots=True)
class SlacParmReq:
    """CM_SLAC_PARM.REQ: the EV asks every EVSE in reach to start a matching run."""

    MMTYPE: ClassVar[int] = CM_SLAC_PARM | REQ
    run_id: bytes
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("run_id", self.run_id, RUN_ID_BYTES)

    def payload(self) -> bytes:
        return bytes([self.application_type, self.security_type]) + self.run_id

    @classmethod
    def parse(cls, data: bytes) -> SlacParmReq:
        app, sec, run_id = struct.unpack_from("<BB8s", data)
        return cls(run_id, app, sec)


@dataclass(frozen=True, slots=True)
class SlacParmCnf:
    """CM_SLAC_PARM.CNF: the EVSE's sounding parameters for this run."""

    MMTYPE: ClassVar[int] = CM_SLAC_PARM | CNF
    forwarding_sta: bytes  # the EV's MAC: where CM_ATTEN_CHAR results go
    run_id: bytes
    num_sounds: int
    time_out_100ms: int
    m_sound_target: bytes = BROADCAST_MAC
    resp_type: int = RESP_TYPE_OTHER_STATION
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("forwarding_sta", self.forwarding_sta, MAC_BYTES)
        _check_len("m_sound_target", self.m_sound_target, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_byte("num_sounds", self.num_sounds)
        _check_byte("time_out_100ms", self.time_out_100ms)

    def payload(self) -> bytes:
        return struct.pack(
            "<6sBBB6sBB8s",
            self.m_sound_target,
            self.num_sounds,
            self.time_out_100ms,
            self.resp_type,
            self.forwarding_sta,
            self.application_type,
            self.security_type,
            self.run_id,
        )

    @classmethod
    def parse(cls, data: bytes) -> SlacParmCnf:
        target, sounds, time_out, resp, fwd, app, sec, run_id = struct.unpack_from(
            "<6sBBB6sBB8s", data
        )
        return cls(fwd, run_id, sounds, time_out, target, resp, app, sec)


@dataclass(frozen=True, slots=True)
class StartAttenCharInd:
    """CM_START_ATTEN_CHAR.IND: the EV is about to send its M-Sounds."""

    MMTYPE: ClassVar[int] = CM_START_ATTEN_CHAR | IND
    num_sounds: int
    time_out_100ms: int
    forwarding_sta: bytes
    run_id: bytes
    resp_type: int = RESP_TYPE_OTHER_STATION
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("forwarding_sta", self.forwarding_sta, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_byte("num_sounds", self.num_sounds)
        _check_byte("time_out_100ms", self.time_out_100ms)

    def payload(self) -> bytes:
        return struct.pack(
            "<BBBBB6s8s",
            self.application_type,
            self.security_type,
            self.num_sounds,
            self.time_out_100ms,
            self.resp_type,
            self.forwarding_sta,
            self.run_id,
        )

    @classmethod
    def parse(cls, data: bytes) -> StartAttenCharInd:
        app, sec, sounds, time_out, resp, fwd, run_id = struct.unpack_from("<BBBBB6s8s", data)
        return cls(sounds, time_out, fwd, run_id, resp, app, sec)


@dataclass(frozen=True, slots=True)
class MnbcSoundInd:
    """CM_MNBC_SOUND.IND: one M-Sound; ``count`` says how many are still to come."""

    MMTYPE: ClassVar[int] = CM_MNBC_SOUND | IND
    count: int
    run_id: bytes
    random: bytes = bytes(16)
    sender_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_len("random", self.random, 16)
        _check_len("sender_id", self.sender_id, ID_BYTES)
        _check_byte("count", self.count)

    def payload(self) -> bytes:
        return struct.pack(
            "<BB17sB8s8s16s",
            self.application_type,
            self.security_type,
            self.sender_id,
            self.count,
            self.run_id,
            bytes(8),  # reserved
            self.random,
        )

    @classmethod
    def parse(cls, data: bytes) -> MnbcSoundInd:
        app, sec, sender, count, run_id, _rsvd, rnd = struct.unpack_from("<BB17sB8s8s16s", data)
        return cls(count, run_id, rnd, sender, app, sec)


def _check_groups(groups: tuple[int, ...]) -> None:
    if not groups or len(groups) > 0xFF:
        raise FrameError(f"an attenuation profile has 1..255 groups, got {len(groups)}")
    for value in groups:
        _check_byte("attenuation group (dB)", value)


@dataclass(frozen=True, slots=True)
class AttenProfileInd:
    """CM_ATTEN_PROFILE.IND: the local modem's attenuation (dB per carrier group) of one
    M-Sound from ``pev_mac``; sent by the EVSE's own modem to its host."""

    MMTYPE: ClassVar[int] = CM_ATTEN_PROFILE | IND
    pev_mac: bytes
    groups_db: tuple[int, ...]

    def __post_init__(self) -> None:
        _check_len("pev_mac", self.pev_mac, MAC_BYTES)
        _check_groups(self.groups_db)

    def payload(self) -> bytes:
        return self.pev_mac + bytes([len(self.groups_db), 0]) + bytes(self.groups_db)

    @classmethod
    def parse(cls, data: bytes) -> AttenProfileInd:
        pev_mac, count, _rsvd = struct.unpack_from("<6sBB", data)
        groups = data[8 : 8 + count]
        if len(groups) != count:
            raise FrameError(f"CM_ATTEN_PROFILE.IND announces {count} groups, has {len(groups)}")
        return cls(pev_mac, tuple(groups))


@dataclass(frozen=True, slots=True)
class AttenCharInd:
    """CM_ATTEN_CHAR.IND: the EVSE's averaged attenuation profile, sent to the EV."""

    MMTYPE: ClassVar[int] = CM_ATTEN_CHAR | IND
    source_address: bytes  # the EV's MAC
    run_id: bytes
    num_sounds: int
    groups_db: tuple[int, ...]
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("source_address", self.source_address, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_len("source_id", self.source_id, ID_BYTES)
        _check_len("resp_id", self.resp_id, ID_BYTES)
        _check_byte("num_sounds", self.num_sounds)
        _check_groups(self.groups_db)

    def payload(self) -> bytes:
        head = struct.pack(
            "<BB6s8s17s17sBB",
            self.application_type,
            self.security_type,
            self.source_address,
            self.run_id,
            self.source_id,
            self.resp_id,
            self.num_sounds,
            len(self.groups_db),
        )
        return head + bytes(self.groups_db)

    @classmethod
    def parse(cls, data: bytes) -> AttenCharInd:
        app, sec, src, run_id, source_id, resp_id, sounds, count = struct.unpack_from(
            "<BB6s8s17s17sBB", data
        )
        groups = data[52 : 52 + count]
        if len(groups) != count:
            raise FrameError(f"CM_ATTEN_CHAR.IND announces {count} groups, has {len(groups)}")
        return cls(src, run_id, sounds, tuple(groups), source_id, resp_id, app, sec)


@dataclass(frozen=True, slots=True)
class AttenCharRsp:
    """CM_ATTEN_CHAR.RSP: the EV acknowledges one EVSE's attenuation profile."""

    MMTYPE: ClassVar[int] = CM_ATTEN_CHAR | RSP
    source_address: bytes
    run_id: bytes
    result: int = 0  # 0x00 success
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("source_address", self.source_address, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_len("source_id", self.source_id, ID_BYTES)
        _check_len("resp_id", self.resp_id, ID_BYTES)
        _check_byte("result", self.result)

    def payload(self) -> bytes:
        return struct.pack(
            "<BB6s8s17s17sB",
            self.application_type,
            self.security_type,
            self.source_address,
            self.run_id,
            self.source_id,
            self.resp_id,
            self.result,
        )

    @classmethod
    def parse(cls, data: bytes) -> AttenCharRsp:
        app, sec, src, run_id, source_id, resp_id, result = struct.unpack_from(
            "<BB6s8s17s17sB", data
        )
        return cls(src, run_id, result, source_id, resp_id, app, sec)


#: MatchVarField lengths: PEV ID, PEV MAC, EVSE ID, EVSE MAC, RunID, 8 reserved (62);
#: the CNF adds NID, one reserved byte and NMK (86).
MATCH_REQ_MVF_BYTES = 62
MATCH_CNF_MVF_BYTES = 86


@dataclass(frozen=True, slots=True)
class SlacMatchReq:
    """CM_SLAC_MATCH.REQ: the EV picked this EVSE (unicast to it)."""

    MMTYPE: ClassVar[int] = CM_SLAC_MATCH | REQ
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("pev_mac", self.pev_mac, MAC_BYTES)
        _check_len("evse_mac", self.evse_mac, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_len("pev_id", self.pev_id, ID_BYTES)
        _check_len("evse_id", self.evse_id, ID_BYTES)

    def payload(self) -> bytes:
        return struct.pack(
            "<BBH17s6s17s6s8s8s",
            self.application_type,
            self.security_type,
            MATCH_REQ_MVF_BYTES,
            self.pev_id,
            self.pev_mac,
            self.evse_id,
            self.evse_mac,
            self.run_id,
            bytes(8),
        )

    @classmethod
    def parse(cls, data: bytes) -> SlacMatchReq:
        app, sec, mvf, pev_id, pev_mac, evse_id, evse_mac, run_id, _rsvd = struct.unpack_from(
            "<BBH17s6s17s6s8s8s", data
        )
        if mvf != MATCH_REQ_MVF_BYTES:
            raise FrameError(f"CM_SLAC_MATCH.REQ MVFLength must be 62, got {mvf}")
        return cls(pev_mac, evse_mac, run_id, pev_id, evse_id, app, sec)


@dataclass(frozen=True, slots=True)
class SlacMatchCnf:
    """CM_SLAC_MATCH.CNF: the EVSE hands the EV the key of its logical network."""

    MMTYPE: ClassVar[int] = CM_SLAC_MATCH | CNF
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes = field(repr=False)
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID
    application_type: int = APPLICATION_PEV_EVSE
    security_type: int = SECURITY_NONE

    def __post_init__(self) -> None:
        _check_len("pev_mac", self.pev_mac, MAC_BYTES)
        _check_len("evse_mac", self.evse_mac, MAC_BYTES)
        _check_len("run_id", self.run_id, RUN_ID_BYTES)
        _check_len("nid", self.nid, NID_BYTES)
        _check_len("nmk", self.nmk, NMK_BYTES)
        _check_len("pev_id", self.pev_id, ID_BYTES)
        _check_len("evse_id", self.evse_id, ID_BYTES)

    def payload(self) -> bytes:
        return struct.pack(
            "<BBH17s6s17s6s8s8s7sB16s",
            self.application_type,
            self.security_type,
            MATCH_CNF_MVF_BYTES,
            self.pev_id,
            self.pev_mac,
            self.evse_id,
            self.evse_mac,
            self.run_id,
            bytes(8),
            self.nid,
            0,
            self.nmk,
        )

    @classmethod
    def parse(cls, data: bytes) -> SlacMatchCnf:
        fields_ = struct.unpack_from("<BBH17s6s17s6s8s8s7sB16s", data)
        app, sec, mvf, pev_id, pev_mac, evse_id, evse_mac, run_id, _r, nid, _r2, nmk = fields_
        if mvf != MATCH_CNF_MVF_BYTES:
            raise FrameError(f"CM_SLAC_MATCH.CNF MVFLength must be 86, got {mvf}")
        return cls(pev_mac, evse_mac, run_id, nid, nmk, pev_id, evse_id, app, sec)


#: CM_SET_KEY.REQ KeyType 0x01: the NMK (AES-128); PID 0x04: HLE protocol.
KEY_TYPE_NMK = 0x01
PID_HLE = 0x04


@dataclass(frozen=True, slots=True)
class SetKeyReq:
    """CM_SET_KEY.REQ (HomePlug AV 11.5.4): the EVSE host gives its own modem the NMK
    and NID of the logical network the EV will join."""

    MMTYPE: ClassVar[int] = CM_SET_KEY | REQ
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

    def __post_init__(self) -> None:
        _check_len("nid", self.nid, NID_BYTES)
        _check_len("nmk", self.nmk, NMK_BYTES)
        _check_len("my_nonce", self.my_nonce, NONCE_BYTES)
        _check_len("your_nonce", self.your_nonce, NONCE_BYTES)

    def payload(self) -> bytes:
        return struct.pack(
            "<B4s4sBHBB7sB16s",
            self.key_type,
            self.my_nonce,
            self.your_nonce,
            self.pid,
            self.prn,
            self.pmn,
            self.cco_capability,
            self.nid,
            self.new_eks,
            self.nmk,
        )

    @classmethod
    def parse(cls, data: bytes) -> SetKeyReq:
        key_type, mine, yours, pid, prn, pmn, cco, nid, eks, nmk = struct.unpack_from(
            "<B4s4sBHBB7sB16s", data
        )
        return cls(nid, nmk, mine, yours, key_type, pid, prn, pmn, cco, eks)


@dataclass(frozen=True, slots=True)
class SetKeyCnf:
    """CM_SET_KEY.CNF: the modem took the key (``result`` 0x00) or refused it."""

    MMTYPE: ClassVar[int] = CM_SET_KEY | CNF
    result: int
    my_nonce: bytes = bytes(NONCE_BYTES)
    your_nonce: bytes = bytes(NONCE_BYTES)
    pid: int = PID_HLE
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0

    def __post_init__(self) -> None:
        _check_byte("result", self.result)
        _check_len("my_nonce", self.my_nonce, NONCE_BYTES)
        _check_len("your_nonce", self.your_nonce, NONCE_BYTES)

    @property
    def succeeded(self) -> bool:
        return self.result == 0

    def payload(self) -> bytes:
        return struct.pack(
            "<B4s4sBHBB",
            self.result,
            self.my_nonce,
            self.your_nonce,
            self.pid,
            self.prn,
            self.pmn,
            self.cco_capability,
        )

    @classmethod
    def parse(cls, data: bytes) -> SetKeyCnf:
        result, mine, yours, pid, prn, pmn, cco = struct.unpack_from("<B4s4sBHBB", data)
        return cls(result, mine, yours, pid, prn, pmn, cco)


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
