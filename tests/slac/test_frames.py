"""SLAC MMEs against byte vectors built by hand from the field tables (ISO 15118-3
Annex A, HomePlug AV 1.1 for CM_SET_KEY), and round trips for every message."""

from __future__ import annotations

import hashlib

import pytest

from v2g.slac.frames import (
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Frame,
    FrameError,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    decode_frame,
    encode_frame,
    mac_text,
    nid_from_nmk,
    parse_mac,
)

EV = bytes.fromhex("02000000000e")
EVSE = bytes.fromhex("020000000001")
MODEM = bytes.fromhex("00b052000001")
BCAST = b"\xff" * 6
RUN = bytes.fromhex("0102030405060708")
NMK = bytes(range(0x10, 0x20))
NID = bytes.fromhex("a1a2a3a4a5a6a7")


def wire(*hex_fields: str) -> bytes:
    """Bytes from hex fields (one per table row), zero padded to the 60-byte minimum."""
    data = bytes.fromhex("".join(hex_fields).replace(" ", ""))
    return data + bytes(max(0, 60 - len(data)))


def header(dst: bytes, src: bytes, mmtype_le: str) -> str:
    # ODA, OSA, Ethertype 0x88E1 (big endian), MMV 0x01, MMTYPE (little endian), FMI 0x0000
    return dst.hex() + src.hex() + "88e1" + "01" + mmtype_le + "0000"


ID17 = "00" * 17

VECTORS = [
    pytest.param(
        Frame(BCAST, EV, SlacParmReq(RUN)),
        wire(header(BCAST, EV, "6460"), "00", "00", RUN.hex()),
        id="CM_SLAC_PARM.REQ",
    ),
    pytest.param(
        Frame(EV, EVSE, SlacParmCnf(EV, RUN, num_sounds=10, time_out_100ms=6)),
        wire(
            header(EV, EVSE, "6560"),
            "ffffffffffff",  # M-SOUND_TARGET
            "0a",  # NUM_SOUNDS = C_EV_match_MNBC
            "06",  # Time_Out = TT_EVSE_match_MNBC / 100 ms
            "01",  # RESP_TYPE: other Green PHY station
            EV.hex(),  # FORWARDING_STA
            "00",  # APPLICATION_TYPE
            "00",  # SECURITY_TYPE
            RUN.hex(),
        ),
        id="CM_SLAC_PARM.CNF",
    ),
    pytest.param(
        Frame(BCAST, EV, StartAttenCharInd(10, 6, EV, RUN)),
        wire(header(BCAST, EV, "6a60"), "00", "00", "0a", "06", "01", EV.hex(), RUN.hex()),
        id="CM_START_ATTEN_CHAR.IND",
    ),
    pytest.param(
        Frame(BCAST, EV, MnbcSoundInd(7, RUN, random=bytes(range(16)))),
        wire(
            header(BCAST, EV, "7660"),
            "00",
            "00",
            ID17,  # SenderID
            "07",  # Cnt: sounds still to come
            RUN.hex(),
            "00" * 8,  # reserved
            bytes(range(16)).hex(),  # Rnd
        ),
        id="CM_MNBC_SOUND.IND",
    ),
    pytest.param(
        Frame(EVSE, MODEM, AttenProfileInd(EV, tuple(range(20, 78)))),
        wire(header(EVSE, MODEM, "8660"), EV.hex(), "3a", "00", bytes(range(20, 78)).hex()),
        id="CM_ATTEN_PROFILE.IND",
    ),
    pytest.param(
        Frame(EV, EVSE, AttenCharInd(EV, RUN, 10, (30,) * 58)),
        wire(
            header(EV, EVSE, "6e60"),
            "00",
            "00",
            EV.hex(),  # SOURCE_ADDRESS
            RUN.hex(),
            ID17,  # SOURCE_ID
            ID17,  # RESP_ID
            "0a",  # NumSounds
            "3a",  # ATTEN_PROFILE: NumGroups = 58
            "1e" * 58,  # AAG
        ),
        id="CM_ATTEN_CHAR.IND",
    ),
    pytest.param(
        Frame(EVSE, EV, AttenCharRsp(EV, RUN)),
        wire(header(EVSE, EV, "6f60"), "00", "00", EV.hex(), RUN.hex(), ID17, ID17, "00"),
        id="CM_ATTEN_CHAR.RSP",
    ),
    pytest.param(
        Frame(EVSE, EV, SlacMatchReq(EV, EVSE, RUN)),
        wire(
            header(EVSE, EV, "7c60"),
            "00",
            "00",
            "3e00",  # MVFLength 62, little endian
            ID17,  # PEV ID
            EV.hex(),
            ID17,  # EVSE ID
            EVSE.hex(),
            RUN.hex(),
            "00" * 8,
        ),
        id="CM_SLAC_MATCH.REQ",
    ),
    pytest.param(
        Frame(EV, EVSE, SlacMatchCnf(EV, EVSE, RUN, NID, NMK)),
        wire(
            header(EV, EVSE, "7d60"),
            "00",
            "00",
            "5600",  # MVFLength 86
            ID17,
            EV.hex(),
            ID17,
            EVSE.hex(),
            RUN.hex(),
            "00" * 8,
            NID.hex(),
            "00",
            NMK.hex(),
        ),
        id="CM_SLAC_MATCH.CNF",
    ),
    pytest.param(
        Frame(MODEM, EVSE, SetKeyReq(NID, NMK, my_nonce=bytes.fromhex("0a0b0c0d"))),
        wire(
            header(MODEM, EVSE, "0860"),
            "01",  # KeyType: NMK
            "0a0b0c0d",  # MyNonce
            "00000000",  # YourNonce
            "04",  # PID: HLE protocol
            "0000",  # PRN
            "00",  # PMN
            "00",  # CCo capability
            NID.hex(),
            "01",  # NewEKS
            NMK.hex(),
        ),
        id="CM_SET_KEY.REQ",
    ),
    pytest.param(
        Frame(EVSE, MODEM, SetKeyCnf(0, your_nonce=bytes.fromhex("0a0b0c0d"))),
        wire(header(EVSE, MODEM, "0960"), "00", "00000000", "0a0b0c0d", "04", "0000", "00", "00"),
        id="CM_SET_KEY.CNF",
    ),
]


@pytest.mark.parametrize(("frame", "expected"), VECTORS)
def test_each_mme_encodes_to_the_bytes_of_its_field_table(frame, expected):
    assert encode_frame(frame) == expected


@pytest.mark.parametrize(("frame", "expected"), VECTORS)
def test_each_mme_decodes_from_the_bytes_of_its_field_table(frame, expected):
    assert decode_frame(expected) == frame


@pytest.mark.parametrize(("frame", "expected"), VECTORS)
def test_frames_round_trip_without_padding_too(frame, expected):
    unpadded = encode_frame(frame).rstrip(b"\x00")
    # Only trailing zero fields are lost by rstrip; pad back what the parser needs.
    assert decode_frame(unpadded + bytes(len(expected))) == frame


def test_short_frames_are_padded_to_the_ethernet_minimum():
    assert len(encode_frame(Frame(BCAST, EV, SlacParmReq(RUN)))) == 60
    assert len(encode_frame(Frame(EV, EVSE, SlacMatchCnf(EV, EVSE, RUN, NID, NMK)))) == 19 + 90


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00" * 10, "not a HomePlug MME"),
        (wire(BCAST.hex() + EV.hex() + "0800" + "01" + "6460" + "0000"), "not a HomePlug MME"),
        (wire(header(BCAST, EV, "6460").replace("88e101", "88e100")), "MM version 0"),
        (wire(header(BCAST, EV, "a0a0")), "MMTYPE 0xa0a0"),
        (bytes.fromhex(header(EV, EVSE, "7d60")) + bytes(20), "SlacMatchCnf too short"),
        (wire(header(EVSE, EV, "7c60"), "0000", "3f00", "00" * 62), "MVFLength must be 62"),
        (wire(header(EVSE, MODEM, "8660"), EV.hex(), "3a00", "01" * 10), "announces 58 groups"),
    ],
    ids=["runt", "ipv4", "mm-version", "mmtype", "short", "mvf-length", "groups"],
)
def test_malformed_frames_raise_frame_error_naming_the_problem(data, problem):
    with pytest.raises(FrameError, match=problem):
        decode_frame(data)


def test_bad_field_sizes_are_refused_when_building_a_message():
    with pytest.raises(FrameError, match="run_id must be 8 bytes"):
        SlacParmReq(b"\x01")
    with pytest.raises(FrameError, match="nmk must be 16 bytes"):
        SlacMatchCnf(EV, EVSE, RUN, NID, b"short")
    with pytest.raises(FrameError, match="one byte"):
        AttenCharInd(EV, RUN, 10, (300,))


def test_nid_is_five_sha256_rounds_of_the_nmk_with_the_security_level_in_bits_4_5():
    digest = NMK
    for _ in range(5):
        digest = hashlib.sha256(digest).digest()
    nid = nid_from_nmk(NMK)
    assert nid[:6] == digest[:6]
    assert nid[6] == digest[6] >> 4
    assert nid_from_nmk(NMK, security_level=1)[6] == (digest[6] >> 4) | 0x10
    assert len(nid) == 7


def test_mac_text_and_back():
    assert mac_text(EV) == "02:00:00:00:00:0e"
    assert parse_mac("02:00:00:00:00:0e") == EV
    with pytest.raises(ValueError, match="not a MAC"):
        parse_mac("02:00")
