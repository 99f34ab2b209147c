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

from tests.integration.wire_secc import run_vehicle, wire_secc

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


def test_a_stalled_message_frees_the_evse_at_the_sequence_timeout(secc):
    """V2G_SECC_Sequence_Timeout (60 s; -2 [V2G2-443], -20 Table 215): an
    EV that sends a header and then nothing no longer holds the EVSE."""
    vehicle, log, tmp_path = secc
    since = len(log.read_text(encoding="utf-8"))
    outcome = run_vehicle(
        vehicle, tmp_path, session="iso2-dc/dynamic", stall_at=5, wait_close_s=90
    )
    assert outcome["closed_after_s"] is not None, outcome
    assert 55 < outcome["closed_after_s"] < 60 + CLOSING_S + 2, outcome
    lines = new_log_lines(log, since)
    # The framer's deadline and the package's own wait both run the 60 s from the last
    # response; whichever fires first ends the session.
    assert any(
        "V2G_SECC_Sequence_Timeout" in line or "TimeoutError occurred" in line for line in lines
    ), lines[-30:]
    assert any("data link: terminate" in line for line in lines)
    assert_normal_session_completes(secc, "din-dc/dynamic")


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
