"""The EVSE-side SLAC machine on a fake clock: the matching sequence of ISO 15118-3
Annex A.9, its timers (Table A.1) and retries, and a modem that never answers."""

from __future__ import annotations

import pytest

from v2g.slac.frames import (
    BROADCAST_MAC,
    AttenCharInd,
    AttenCharRsp,
    AttenProfileInd,
    Frame,
    MnbcSoundInd,
    SetKeyCnf,
    SetKeyReq,
    SlacMatchCnf,
    SlacMatchReq,
    SlacParmCnf,
    SlacParmReq,
    StartAttenCharInd,
    nid_from_nmk,
)
from v2g.slac.machine import (
    LOCAL_MODEM_MAC,
    MAX_RUNS,
    EvseSlac,
    Failed,
    Matched,
    Phase,
    Send,
    SessionKeys,
    SlacTimers,
    Timer,
)

EV = bytes.fromhex("02000000000e")
OTHER_EV = bytes.fromhex("02000000000f")
EVSE = bytes.fromhex("020000000001")
RUN = bytes.fromhex("0102030405060708")
KEYS = SessionKeys(nmk=bytes(range(16)), nonce=b"\x01\x02\x03\x04")


def sent(actions):
    return [a.frame.message for a in actions if isinstance(a, Send)]


def from_ev(message, to=BROADCAST_MAC, source=EV):
    return Frame(to, source, message)


def from_modem(message):
    return Frame(EVSE, LOCAL_MODEM_MAC, message)


def started(now_s=0.0) -> EvseSlac:
    machine = EvseSlac(EVSE)
    machine.start(now_s, KEYS)
    machine.receive(from_modem(SetKeyCnf(0)), now_s + 0.01)
    assert machine.phase is Phase.WAIT_PARM_REQ
    return machine


def sounded(machine: EvseSlac, now_s: float, attenuation_db: int = 20, sounds: int = 10):
    """The EV's parameters, start indications and sounds; the modem's profiles."""
    actions = machine.receive(from_ev(SlacParmReq(RUN)), now_s)
    for _ in range(3):
        actions += machine.receive(from_ev(StartAttenCharInd(10, 6, EV, RUN)), now_s + 0.05)
    for count in range(sounds):
        actions += machine.receive(from_ev(MnbcSoundInd(9 - count, RUN)), now_s + 0.1)
        profile = AttenProfileInd(EV, (attenuation_db,) * 58)
        actions += machine.receive(from_modem(profile), now_s + 0.1)
    return actions


def test_start_sets_a_fresh_key_on_the_local_modem_first():
    machine = EvseSlac(EVSE)
    actions = machine.start(0.0, KEYS)
    (request,) = sent(actions)
    assert isinstance(request, SetKeyReq)
    assert actions[0].frame.destination == LOCAL_MODEM_MAC
    assert request.nmk == KEYS.nmk
    assert request.nid == nid_from_nmk(KEYS.nmk)
    assert machine.phase is Phase.SETTING_KEY


def test_full_matching_sequence_hands_the_ev_the_nmk_and_reports_the_match():
    machine = started()
    actions = sounded(machine, 1.0, attenuation_db=20)
    parm_cnf, atten_char = sent(actions)
    assert isinstance(parm_cnf, SlacParmCnf)
    assert (parm_cnf.num_sounds, parm_cnf.time_out_100ms) == (10, 6)  # C_EV_match_MNBC, 600 ms
    assert parm_cnf.forwarding_sta == EV and parm_cnf.run_id == RUN
    assert isinstance(atten_char, AttenCharInd)
    assert atten_char.num_sounds == 10 and atten_char.groups_db == (20,) * 58
    assert machine.phase is Phase.WAIT_ATTEN_RSP

    assert machine.receive(from_ev(AttenCharRsp(EV, RUN), to=EVSE), 1.2) == []
    assert machine.armed == [Timer.MATCH_SESSION]
    actions = machine.receive(from_ev(SlacMatchReq(EV, EVSE, RUN), to=EVSE), 1.3)
    (confirm,) = sent(actions)
    assert isinstance(confirm, SlacMatchCnf)
    assert confirm.nmk == KEYS.nmk and confirm.nid == nid_from_nmk(KEYS.nmk)
    (matched,) = [a for a in actions if isinstance(a, Matched)]
    assert matched.match.ev_mac == EV and matched.match.attenuation_db == 20
    assert machine.phase is Phase.MATCHED and machine.deadline_s is None


def test_average_attenuation_is_the_rounded_mean_per_group_v2g3_a09_19():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    machine.receive(from_ev(StartAttenCharInd(2, 6, EV, RUN)), 1.05)
    machine.receive(from_modem(AttenProfileInd(EV, (10, 20, 30))), 1.1)
    actions = machine.receive(from_modem(AttenProfileInd(EV, (11, 20, 40))), 1.15)
    (indication,) = sent(actions)
    assert indication.groups_db == (11, 20, 35)  # 10.5 rounds half up
    assert indication.num_sounds == 2


def test_sounding_window_closes_after_tt_evse_match_mnbc_with_the_sounds_it_has():
    machine = started()
    sounded(machine, 1.0, sounds=4)  # six of ten sounds never arrive
    assert machine.phase is Phase.SOUNDING
    assert machine.deadline_s == pytest.approx(1.05 + 0.6)
    assert machine.tick(1.6) == []
    (indication,) = sent(machine.tick(1.65))
    assert indication.num_sounds == 4


def test_no_profiles_from_the_modem_fails_the_run_and_waits_for_a_new_one():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    machine.receive(from_ev(StartAttenCharInd(10, 6, EV, RUN)), 1.05)
    actions = machine.tick(1.65)
    assert "no CM_ATTEN_PROFILE.IND" in actions[0].text
    assert machine.phase is Phase.WAIT_PARM_REQ
    assert machine.armed == [Timer.MATCHING_REPETITION]


def test_no_start_atten_char_within_tt_match_sequence_fails_the_run():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    assert machine.deadline_s == pytest.approx(1.4)
    actions = machine.tick(1.4)
    assert "TT_match_sequence" in actions[0].text
    assert machine.phase is Phase.WAIT_PARM_REQ


def test_atten_char_ind_is_repeated_c_ev_match_retry_times_then_the_run_fails():
    machine = started()
    sounded(machine, 1.0)
    repeats = []
    now = 1.1
    for _ in range(2):
        now += 0.2  # TT_match_response
        repeats += [m for m in sent(machine.tick(now)) if isinstance(m, AttenCharInd)]
    assert len(repeats) == 2
    actions = machine.tick(now + 0.2)
    assert "no CM_ATTEN_CHAR.RSP after 3 tries" in actions[0].text
    assert machine.phase is Phase.WAIT_PARM_REQ


def test_no_match_request_within_tt_evse_match_session_means_the_ev_chose_another_evse():
    machine = started()
    sounded(machine, 1.0)
    machine.receive(from_ev(AttenCharRsp(EV, RUN), to=EVSE), 1.2)
    assert machine.tick(11.19) == []
    actions = machine.tick(11.2)
    assert "TT_EVSE_match_session" in actions[0].text
    assert machine.phase is Phase.WAIT_PARM_REQ


def test_no_parm_req_within_tt_evse_slac_init_fails_slac():
    machine = started(now_s=0.0)
    assert machine.deadline_s == 50.0
    (failed,) = machine.tick(50.0)
    assert failed == Failed("no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
    assert machine.phase is Phase.FAILED and machine.deadline_s is None


def test_failed_runs_are_repeated_only_within_tt_matching_repetition_v2g3_a09_125():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    machine.tick(1.4)  # first failure at 1.4 s: repetition until 11.4 s
    second = bytes.fromhex("1111111111111111")
    machine.receive(from_ev(SlacParmReq(second)), 1.8)  # the EV's next run (TT_matching_rate)
    assert machine.armed == [Timer.MATCH_SEQUENCE]
    machine.tick(2.2)
    assert machine.armed == [Timer.MATCHING_REPETITION]
    (failed,) = [a for a in machine.tick(11.4) if isinstance(a, Failed)]
    assert "TT_matching_repetition" in failed.reason
    assert machine.phase is Phase.FAILED


def test_a_modem_that_never_answers_set_key_fails_slac_after_the_retries():
    machine = EvseSlac(EVSE)
    requests = sent(machine.start(0.0, KEYS))
    now = 0.0
    for _ in range(2):
        now += 0.2
        requests += sent(machine.tick(now))
    assert [type(r) for r in requests] == [SetKeyReq] * 3
    # Meanwhile the EV's request is not answered: the modem has no key to join with.
    assert sent(machine.receive(from_ev(SlacParmReq(RUN)), now + 0.1)) == []
    (failed,) = machine.tick(now + 0.2)
    assert failed.reason == "the local modem did not confirm CM_SET_KEY.REQ (3 tries)"
    assert machine.phase is Phase.FAILED and machine.deadline_s is None


def test_a_modem_refusing_the_key_fails_slac_with_its_result_code():
    machine = EvseSlac(EVSE)
    machine.start(0.0, KEYS)
    (failed,) = machine.receive(from_modem(SetKeyCnf(1)), 0.05)
    assert "refused CM_SET_KEY.REQ (result 1)" in failed.reason


def test_a_lost_parm_cnf_is_answered_again_when_the_ev_repeats_its_request():
    machine = started()
    first = sent(machine.receive(from_ev(SlacParmReq(RUN)), 1.0))
    again = sent(machine.receive(from_ev(SlacParmReq(RUN)), 1.2))
    assert first == again and isinstance(again[0], SlacParmCnf)
    assert machine.phase is Phase.WAIT_START_ATTEN


def test_a_lost_match_cnf_is_sent_again_without_a_second_match():
    machine = started()
    sounded(machine, 1.0)
    machine.receive(from_ev(AttenCharRsp(EV, RUN), to=EVSE), 1.2)
    machine.receive(from_ev(SlacMatchReq(EV, EVSE, RUN), to=EVSE), 1.3)
    actions = machine.receive(from_ev(SlacMatchReq(EV, EVSE, RUN), to=EVSE), 1.5)
    assert [type(m) for m in sent(actions)] == [SlacMatchCnf]
    assert not [a for a in actions if isinstance(a, Matched)]


def test_a_neighbours_ev_heard_through_crosstalk_gets_its_own_run_kept_apart():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    neighbour_run = bytes.fromhex("2222222222222222")
    actions = machine.receive(from_ev(SlacParmReq(neighbour_run), source=OTHER_EV), 1.01)
    assert sent(actions)[0].forwarding_sta == OTHER_EV
    for ev, run_id in ((EV, RUN), (OTHER_EV, neighbour_run)):
        machine.receive(from_ev(StartAttenCharInd(2, 6, ev, run_id), source=ev), 1.05)
    indications = []
    for ev, attenuation in ((EV, 12), (OTHER_EV, 45)):
        for _ in range(2):
            indications += sent(
                machine.receive(from_modem(AttenProfileInd(ev, (attenuation,))), 1.1)
            )
    assert [(i.source_address, i.groups_db) for i in indications] == [
        (EV, (12,)),
        (OTHER_EV, (45,)),
    ]
    for ev, run_id in ((EV, RUN), (OTHER_EV, neighbour_run)):
        machine.receive(from_ev(AttenCharRsp(ev, run_id), to=EVSE, source=ev), 1.2)
    # Only the own EV picks this EVSE; its match ends the neighbour's run.
    actions = machine.receive(from_ev(SlacMatchReq(EV, EVSE, RUN), to=EVSE), 1.3)
    (matched,) = [a for a in actions if isinstance(a, Matched)]
    assert matched.match.ev_mac == EV and matched.match.attenuation_db == 12
    assert machine.armed == []


def test_a_neighbours_ev_matching_elsewhere_is_no_failure_of_ours():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN), source=OTHER_EV), 1.0)
    machine.receive(from_ev(StartAttenCharInd(1, 6, OTHER_EV, RUN), source=OTHER_EV), 1.05)
    machine.receive(from_modem(AttenProfileInd(OTHER_EV, (45,))), 1.1)
    machine.receive(from_ev(AttenCharRsp(OTHER_EV, RUN), to=EVSE, source=OTHER_EV), 1.2)
    machine.tick(11.2)  # TT_EVSE_match_session: it matched its own charger
    # Back to waiting for our EV under TT_EVSE_SLAC_init, not TT_matching_repetition.
    assert machine.phase is Phase.WAIT_PARM_REQ
    assert machine.armed == [Timer.SLAC_INIT] and machine.deadline_s == 50.0


def test_runs_in_flight_are_capped():
    machine = started()
    for index in range(MAX_RUNS):
        ev = bytes([2, 0, 0, 0, 1, index])
        machine.receive(from_ev(SlacParmReq(RUN), source=ev), 1.0)
    actions = machine.receive(from_ev(SlacParmReq(RUN), source=bytes([2, 0, 0, 0, 2, 0])), 1.0)
    assert sent(actions) == [] and f"{MAX_RUNS} runs" in actions[0].text


def test_match_requests_for_another_evse_and_frames_for_other_stations_are_ignored():
    machine = started()
    sounded(machine, 1.0)
    machine.receive(from_ev(AttenCharRsp(EV, RUN), to=EVSE), 1.2)
    other_evse = bytes.fromhex("020000000002")
    assert sent(machine.receive(from_ev(SlacMatchReq(EV, other_evse, RUN), to=EVSE), 1.3)) == []
    assert machine.receive(from_ev(SlacMatchReq(EV, EVSE, RUN), to=other_evse), 1.3) == []
    assert machine.phase is Phase.WAIT_MATCH_REQ


def test_messages_of_another_run_id_are_ignored():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    stale = bytes(8)
    assert machine.receive(from_ev(StartAttenCharInd(10, 6, EV, stale)), 1.05) == []
    assert machine.phase is Phase.WAIT_START_ATTEN


def test_security_type_1_is_not_offered():
    machine = started()
    actions = machine.receive(from_ev(SlacParmReq(RUN, security_type=1)), 1.0)
    assert sent(actions) == [] and machine.phase is Phase.WAIT_PARM_REQ


def test_stop_leaves_the_logical_network_with_a_new_key_and_goes_idle():
    machine = started()
    sounded(machine, 1.0)
    fresh = SessionKeys(nmk=b"\xaa" * 16)
    (request,) = sent(machine.stop(2.0, fresh))
    assert isinstance(request, SetKeyReq) and request.nmk == fresh.nmk
    assert machine.phase is Phase.IDLE and machine.deadline_s is None
    # ...and it can start again.
    assert isinstance(sent(machine.start(3.0, KEYS))[0], SetKeyReq)


def test_start_while_running_changes_nothing():
    machine = started()
    machine.receive(from_ev(SlacParmReq(RUN)), 1.0)
    actions = machine.start(1.1, KEYS)
    assert sent(actions) == [] and machine.phase is Phase.WAIT_START_ATTEN


def test_bad_timers_and_keys_are_refused():
    with pytest.raises(ValueError, match="match_response_s must be > 0"):
        SlacTimers(match_response_s=0)
    with pytest.raises(ValueError, match="16-byte NMK"):
        SessionKeys(nmk=b"short")
    with pytest.raises(ValueError, match="6 bytes"):
        EvseSlac(b"\x01")
