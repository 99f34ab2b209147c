"""The SECC reads V2GTP as a byte stream (issue 18), against ``v2g secc`` in network
namespaces and a scripted EV that writes real request bytes (``wire_vehicle``).

iso15118 0.31.2's trap: its read loop takes one ``read(7000)`` for one whole message,
so a header and payload sent apart ended the session at the first request, and two
messages in one segment lost the second. Each case here either completes the session
or ends it cleanly (data link terminated, connection closed), and a normal session
completes right after on the same EVSE.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.wire_secc import (
    EVSE_ID,
    run_stalled,
    run_vehicle,
    timeout_secc,
    wire_secc,
)

pytestmark = pytest.mark.netns

SESSIONS = ["din-dc/dynamic", "iso2-dc/dynamic", "iso20-dc/dynamic"]
#: The package closes a session's connection 5 s after it ended it (2 s to the data
#: link, 3 s more to the socket), so that a last response still goes out.
CLOSING_S = 5.0


@pytest.fixture(scope="module")
def secc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("wire")
    with wire_secc(tmp_path, "w") as (vehicle, log):
        yield vehicle, log, tmp_path


def new_log_lines(log: Path, since: int) -> list[str]:
    return log.read_text(encoding="utf-8")[since:].splitlines()


def assert_normal_session_completes(secc, session: str = "iso20-dc/dynamic") -> None:
    vehicle, log, tmp_path = secc
    outcome = run_vehicle(vehicle, tmp_path, session=session)
    assert outcome["completed"], (outcome, log.read_text()[-3000:])


@pytest.mark.parametrize("segmentation", ["split", "bytes", "coalesced"])
@pytest.mark.parametrize("session", SESSIONS)
def test_a_session_completes_however_its_messages_are_segmented(secc, session, segmentation):
    vehicle, log, tmp_path = secc
    outcome = run_vehicle(vehicle, tmp_path, session=session, segmentation=segmentation)
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    assert outcome["responses"][-1] == "SessionStopRes OK"


@pytest.mark.parametrize(("session", "at"), [("iso2-dc/dynamic", 3), ("iso20-dc/dynamic", 2)])
def test_a_frame_of_the_other_protocols_payload_type_is_ignored(secc, session, at):
    """-2 §7.8.3.2 / -20 §7.8.3: a header with a payload type the protocol does not
    have is ignored; the same request under the right type is then answered."""
    vehicle, log, tmp_path = secc
    since = len(log.read_text(encoding="utf-8"))
    outcome = run_vehicle(vehicle, tmp_path, session=session, wrong_type_at=at)
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    ignored = [line for line in new_log_lines(log, since) if "ignored: payload type" in line]
    assert len(ignored) == 1, ignored


@pytest.mark.parametrize("bad_frame", ["version", "over-bound", "garbage-exi"])
@pytest.mark.parametrize(("session", "at"), [("din-dc/dynamic", 5), ("iso20-dc/dynamic", 0)])
def test_a_frame_that_cannot_be_handled_ends_the_session_cleanly(secc, session, at, bad_frame):
    vehicle, log, tmp_path = secc
    since = len(log.read_text(encoding="utf-8"))
    outcome = run_vehicle(
        vehicle, tmp_path, session=session, bad_frame_at=at, bad_frame=bad_frame, seed=at
    )
    assert not outcome["completed"]
    assert outcome["closed_after_s"] is not None
    assert outcome["closed_after_s"] < CLOSING_S + 1.5, outcome
    lines = new_log_lines(log, since)
    if at == 0 and bad_frame == "version":  # no SAP frame: closed before any session
        assert any("do not start a V2GTP SupportedAppProtocolReq" in line for line in lines)
    else:
        assert any("data link: terminate" in line for line in lines)  # contactors open, 0 W
    assert not any("Traceback" in line for line in lines)
    assert len(bad_frame_lines(lines)) == 1, bad_frame_lines(lines)
    assert_normal_session_completes(secc)


@pytest.fixture(scope="module")
def tls_secc(tmp_path_factory):
    """The same SECC serving TLS from a ``v2g pki init`` folder whose SECC certificate
    names its EVSE: TLS 1.2 for -2, TLS 1.3 (mutual) for -20."""
    from v2g.cli import main

    tmp_path = tmp_path_factory.mktemp("wire-tls")
    pki_dir = tmp_path / "pki"
    init = ["pki", "init", "--profile", "iso20", "--evse-id", EVSE_ID, str(pki_dir)]
    assert main(init) == 0
    with wire_secc(tmp_path, "s", f'pki_dir = "{pki_dir}"\n') as (vehicle, log):
        yield vehicle, log, tmp_path, pki_dir


@pytest.mark.parametrize("segmentation", ["split", "bytes", "coalesced"])
@pytest.mark.parametrize(
    ("session", "version"), [("iso2-dc/dynamic", "TLSv1.2"), ("iso20-dc/dynamic", "TLSv1.3")]
)
def test_a_session_over_tls_completes_however_its_messages_are_segmented(
    tls_secc, session, version, segmentation
):
    """Over TLS each write of the EV is one TLS record, so the SECC's reads see the
    same splits as over TCP. DIN SPEC 70121 has no TLS."""
    vehicle, log, tmp_path, pki_dir = tls_secc
    outcome = run_vehicle(
        vehicle, tmp_path, session=session, segmentation=segmentation, tls_pki_dir=str(pki_dir)
    )
    assert outcome["tls"] == version, outcome
    assert outcome["completed"], (outcome, log.read_text()[-3000:])
    assert outcome["responses"][-1] == "SessionStopRes OK"


#: A sequence timeout short enough for a test; the product's default is the standards' 60 s
#: (a stall then frees the EVSE 60 s after the last response, measured the same way).
SHORT_SEQUENCE_TIMEOUT_S = 3.0


@pytest.fixture(scope="module")
def short_timeout_secc(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("wire-timeout")
    with timeout_secc(tmp_path, "t", SHORT_SEQUENCE_TIMEOUT_S) as secc:
        yield secc


@pytest.mark.parametrize(
    ("session", "at", "after_bytes"),
    [
        ("din-dc/dynamic", 5, 8),  # its header, no payload
        ("iso2-dc/dynamic", 10, 10),  # its header and 2 payload bytes, charging
        # The same in -20, the first DC_ChargeLoopReq (after PowerDeliveryRes: Table
        # 215); after a DC_ChargeLoopRes the SECC waits 0.5 s (Table 217,
        # test_secc_timing.py).
        ("iso20-dc/dynamic", 14, 12),
    ],
)
def test_a_stalled_message_frees_the_evse_within_the_sequence_timeout(
    short_timeout_secc, session, at, after_bytes
):
    """V2G_SECC_Sequence_Timeout (DIN SPEC 70121; -2 [V2G2-443]; -20 Table 215): an EV
    that starts a message and then sends nothing no longer holds the EVSE once the
    timeout has run from the SECC's last response. The connection is closed at the
    timeout, not 5 s later (the package's linger, decision "A session that ends while
    waiting for the EV frees the EVSE at once"), and the next EV charges at once."""
    outcome, lines = run_stalled(
        short_timeout_secc, session, at, after_bytes, SHORT_SEQUENCE_TIMEOUT_S + CLOSING_S + 5
    )
    assert outcome["responses"][-1].startswith("stalled in"), outcome
    closed_s = outcome["closed_after_s"]
    assert closed_s is not None, outcome
    assert SHORT_SEQUENCE_TIMEOUT_S - 0.3 < closed_s < SHORT_SEQUENCE_TIMEOUT_S + 1.0, outcome
    assert any("V2G_SECC_Sequence_Timeout" in line for line in lines), lines[-30:]
    assert any("data link: terminate" in line for line in lines)  # contactors open, 0 W
    assert not any("TCP connection will close in 5 seconds" in line for line in lines)
    assert_normal_session_completes(short_timeout_secc, session)


#: Warning and error lines that report a bad frame (the guard's, the framer's, and the
#: package's read loop's), as opposed to a session's normal ones.
BAD_FRAME_LINE = re.compile(
    r" (WARNING|ERROR) (v2g\.secc\.framed_reader|v2g\.secc\.iso15118_hooks"
    r"|iso15118\.shared\.comm_session): "
)


def bad_frame_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if BAD_FRAME_LINE.search(line)]


def test_ten_thousand_fuzzed_frames_leave_the_secc_running_with_one_line_each(secc):
    """Random first messages on fresh connections, frames of random payload types
    inside live DIN, -2 and -20 sessions, and frames that end a session (bad version,
    over their bound, random bytes under a right header): 10,000 frames in all."""
    vehicle, log, tmp_path = secc
    since = len(log.read_text(encoding="utf-8"))
    junk, noise_per_session = 3000, 2332
    enders = [(s, kind) for s in SESSIONS for kind in ("version", "over-bound", "garbage-exi")]
    noisy = [
        run_vehicle(
            vehicle,
            tmp_path,
            session=session,
            seed=seed,
            junk_connections=junk if seed == 0 else 0,
            noise_at=3,
            noise_frames=noise_per_session,
        )
        for seed, session in enumerate(SESSIONS)
    ]
    ended = [
        run_vehicle(vehicle, tmp_path, session=s, seed=i, bad_frame_at=4, bad_frame=kind)
        for i, (s, kind) in enumerate(enders)
    ]
    sent = junk + noise_per_session * len(SESSIONS) + len(enders)
    assert sent >= 10_000
    assert all(o["completed"] for o in noisy), noisy
    assert noisy[0]["junk_refused"] == junk
    assert not any(o["completed"] for o in ended)
    assert_normal_session_completes(secc)
    lines = new_log_lines(log, since)
    assert not any("Traceback" in line for line in lines)
    assert len(bad_frame_lines(lines)) == sent
