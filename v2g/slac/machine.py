"""SLAC, EVSE side (ISO 15118-3 Annex A.9), as a pure state machine.

The machine consumes three kinds of input and returns the actions they cause:

- ``start(now_s, keys)`` when the control pilot reaches state B, ``stop(now_s, keys)``
  when it leaves (A, E, F);
- ``receive(frame, now_s)`` for every MME the EVSE host's interface delivers;
- ``tick(now_s)`` whenever ``deadline_s`` has passed: the timer events.

Actions are ``Send`` (a frame to put on the wire), ``Matched`` (the EV joined: hand over
to SDP), ``Failed`` (matching gave up, with the reason) and ``Note`` (a line worth
logging). No clock, socket or randomness inside: the edge (``v2g.slac.link``) brings
the time and fresh keys, tests bring a fake clock.

Each EV heard gets its own matching run (crosstalk from a neighbouring charger's EV
is sounded too); the EV that picks this EVSE ends the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from v2g.slac.frames import (
    APPLICATION_PEV_EVSE,
    BROADCAST_MAC,
    MAC_BYTES,
    NMK_BYTES,
    NONCE_BYTES,
    SECURITY_NONE,
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
    mac_text,
    nid_from_nmk,
)

#: Where the host reaches its own modem: the HomePlug local management address that
#: Qualcomm Atheros Green PHY chips answer to (configurable per EVSE).
LOCAL_MODEM_MAC = bytes.fromhex("00b052000001")


@dataclass(frozen=True, slots=True)
class SlacTimers:
    """ISO 15118-3 Table A.1 values the EVSE uses, in seconds (or counts)."""

    #: TT_EVSE_SLAC_init (20 s - 50 s): state B detected until CM_SLAC_PARM.REQ.
    slac_init_s: float = 50.0
    #: TT_match_sequence: the wait for the next request of a sequence
    #: (CM_SLAC_PARM.CNF -> first CM_START_ATTEN_CHAR.IND).
    match_sequence_s: float = 0.4
    #: TT_match_response: the wait for the answer to our own request/indication.
    match_response_s: float = 0.2
    #: TT_EVSE_match_MNBC: the sounding window, sent to the EV in CM_SLAC_PARM.CNF.
    match_mnbc_s: float = 0.6
    #: TT_EVSE_match_session: CM_ATTEN_CHAR.RSP until CM_SLAC_MATCH.REQ.
    match_session_s: float = 10.0
    #: TT_matching_repetition: how long failed runs may be repeated before giving up.
    matching_repetition_s: float = 10.0
    #: C_EV_match_MNBC: M-Sounds asked for in CM_SLAC_PARM.CNF.
    num_sounds: int = 10
    #: C_EV_match_retry: repetitions of an unanswered message (CM_ATTEN_CHAR.IND; the
    #: product uses the same count for CM_SET_KEY.REQ to the local modem).
    match_retry: int = 2

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"SLAC timer {name} must be > 0, got {value}")
        if not 1 <= self.num_sounds <= 255:
            raise ValueError(f"num_sounds must be 1..255, got {self.num_sounds}")
        if round(self.match_mnbc_s * 10) > 255:
            raise ValueError("match_mnbc_s must fit one byte of 100 ms units")


class Phase(Enum):
    IDLE = "idle"
    SETTING_KEY = "setting_key"
    WAIT_PARM_REQ = "wait_parm_req"
    WAIT_START_ATTEN = "wait_start_atten_char"
    SOUNDING = "sounding"
    WAIT_ATTEN_RSP = "wait_atten_char_rsp"
    WAIT_MATCH_REQ = "wait_slac_match_req"
    MATCHED = "matched"
    FAILED = "failed"


class Timer(Enum):
    """The timer events the machine arms (one step timer plus the give-up deadline)."""

    SET_KEY = "CM_SET_KEY.CNF response"
    SLAC_INIT = "TT_EVSE_SLAC_init"
    MATCH_SEQUENCE = "TT_match_sequence"
    MATCH_MNBC = "TT_EVSE_match_MNBC"
    MATCH_RESPONSE = "TT_match_response"
    MATCH_SESSION = "TT_EVSE_match_session"
    MATCHING_REPETITION = "TT_matching_repetition"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Fresh random material for one start: the NMK of the logical network the EV will
    join and the nonce of CM_SET_KEY.REQ."""

    nmk: bytes = field(repr=False)
    nonce: bytes = bytes(NONCE_BYTES)

    def __post_init__(self) -> None:
        if len(self.nmk) != NMK_BYTES or len(self.nonce) != NONCE_BYTES:
            raise ValueError("SessionKeys needs a 16-byte NMK and a 4-byte nonce")


@dataclass(frozen=True, slots=True)
class SlacMatch:
    """A matched EV: what SDP and the SECC need from the data link."""

    ev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes = field(repr=False)
    #: Average attenuation this EVSE measured, in dB (lower = closer).
    attenuation_db: float

    @property
    def ev_mac_text(self) -> str:
        return mac_text(self.ev_mac)


@dataclass(frozen=True, slots=True)
class Send:
    frame: Frame


@dataclass(frozen=True, slots=True)
class Matched:
    match: SlacMatch


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    text: str


Action = Send | Matched | Failed | Note


#: Runs in flight at once: the own EV plus neighbours heard through crosstalk.
MAX_RUNS = 8
_PROGRESS = (
    Phase.WAIT_START_ATTEN,
    Phase.SOUNDING,
    Phase.WAIT_ATTEN_RSP,
    Phase.WAIT_MATCH_REQ,
    Phase.MATCHED,
)


@dataclass(slots=True)
class _Run:
    """One matching run with one EV (its MAC and RunID) and its own step timer."""

    ev_mac: bytes
    run_id: bytes
    phase: Phase = Phase.WAIT_START_ATTEN
    step: tuple[Timer, float] | None = None
    expected_sounds: int = 0
    sounds_heard: int = 0
    profiles: int = 0
    sums_db: list[int] = field(default_factory=list)
    average_db: tuple[int, ...] = ()
    tries: int = 0


class EvseSlac:
    """The EVSE side of SLAC on one EVSE interface (one PLC modem).

    Every EV whose CM_SLAC_PARM.REQ reaches this EVSE gets its own run (up to
    ``MAX_RUNS``): the EV plugged in here and neighbours' EVs heard through crosstalk
    are sounded side by side, and only the EV that picks this EVSE sends
    CM_SLAC_MATCH.REQ. The first match ends every other run.
    """

    def __init__(
        self,
        evse_mac: bytes,
        modem_mac: bytes = LOCAL_MODEM_MAC,
        timers: SlacTimers | None = None,
    ) -> None:
        if len(evse_mac) != MAC_BYTES or len(modem_mac) != MAC_BYTES:
            raise ValueError("evse_mac and modem_mac must be 6 bytes")
        self.evse_mac = evse_mac
        self.modem_mac = modem_mac
        self.timers = timers or SlacTimers()
        self.match: SlacMatch | None = None
        self.failure: str | None = None
        self._state = Phase.IDLE
        self._keys: SessionKeys | None = None
        self._nid = b""
        self._runs: dict[bytes, _Run] = {}
        self._key_tries = 0
        self._key_step: tuple[Timer, float] | None = None
        self._give_up: tuple[Timer, float] | None = None
        self._init_until_s = 0.0
        self._repeat_until_s: float | None = None

    @property
    def phase(self) -> Phase:
        """IDLE, SETTING_KEY, MATCHED, FAILED, or while matching the most advanced run's
        phase (WAIT_PARM_REQ when no run is in flight)."""
        if self._state is not Phase.WAIT_PARM_REQ or not self._runs:
            return self._state
        return max((run.phase for run in self._runs.values()), key=_PROGRESS.index)

    # -- inputs ---------------------------------------------------------------------

    def start(self, now_s: float, keys: SessionKeys) -> list[Action]:
        """Control pilot state B: set a fresh key on the local modem, then wait for the
        EV's CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init (Table A.1)."""
        if self._state not in (Phase.IDLE, Phase.FAILED):
            return [Note(f"start ignored: SLAC already {self.phase.value}")]
        self._keys = keys
        self._nid = nid_from_nmk(keys.nmk)
        self._runs = {}
        self.match = None
        self.failure = None
        self._init_until_s = now_s + self.timers.slac_init_s
        self._give_up = (Timer.SLAC_INIT, self._init_until_s)
        self._repeat_until_s = None
        self._key_tries = 0
        return self._send_set_key(now_s)

    def stop(self, now_s: float, keys: SessionKeys) -> list[Action]:
        """Control pilot left B/C/D: forget the EV and leave its logical network by giving
        the modem a new random NMK (no answer awaited)."""
        self._state = Phase.IDLE
        self._runs = {}
        self.match = None
        self._key_step = None
        self._give_up = None
        request = SetKeyReq(nid_from_nmk(keys.nmk), keys.nmk, my_nonce=keys.nonce)
        return [Send(Frame(self.modem_mac, self.evse_mac, request)), Note("SLAC stopped")]

    def receive(self, frame: Frame, now_s: float) -> list[Action]:
        """One MME from the interface; frames for other stations are dropped."""
        if frame.destination not in (self.evse_mac, BROADCAST_MAC):
            return []
        if frame.source == self.evse_mac:
            return []
        message = frame.message
        if isinstance(message, SetKeyCnf):
            return self._on_set_key_cnf(message, now_s)
        if isinstance(message, SlacParmReq):
            return self._on_parm_req(frame.source, message, now_s)
        ev_mac = message.pev_mac if isinstance(message, AttenProfileInd) else frame.source
        run = self._runs.get(ev_mac)
        if run is None or message_run_id(message) not in (None, run.run_id):
            return []
        if isinstance(message, StartAttenCharInd):
            return self._on_start_atten(run, message.num_sounds, now_s)
        if isinstance(message, MnbcSoundInd):
            return self._on_sound(run, now_s)
        if isinstance(message, AttenProfileInd):
            return self._on_profile(run, message, now_s)
        if isinstance(message, AttenCharRsp):
            return self._on_atten_rsp(run, message, now_s)
        if isinstance(message, SlacMatchReq):
            return self._on_match_req(run, frame.source, message)
        return []

    def _timers(self) -> list[tuple[Timer, float]]:
        steps = [run.step for run in self._runs.values() if run.step is not None]
        return [t for t in (self._key_step, *steps, self._give_up) if t is not None]

    @property
    def deadline_s(self) -> float | None:
        """When ``tick`` next has work to do (None: no timer armed)."""
        moments = [moment for _, moment in self._timers()]
        return min(moments) if moments else None

    @property
    def armed(self) -> list[Timer]:
        """The timers armed now, for tests and logs."""
        return [timer for timer, _ in self._timers()]

    def tick(self, now_s: float) -> list[Action]:
        """Fire every timer that expired at ``now_s``."""
        actions: list[Action] = []
        if self._key_step is not None and now_s >= self._key_step[1]:
            self._key_step = None
            actions += self._on_set_key_timeout(now_s)
        for run in list(self._runs.values()):
            if run.step is not None and now_s >= run.step[1] and run.ev_mac in self._runs:
                timer = run.step[0]
                run.step = None
                actions += self._on_step_timeout(run, timer, now_s)
        if self._give_up is not None and now_s >= self._give_up[1]:
            actions += self._on_give_up(self._give_up[0])
        return actions

    # -- the local modem ------------------------------------------------------------

    def _send_set_key(self, now_s: float) -> list[Action]:
        assert self._keys is not None
        self._state = Phase.SETTING_KEY
        self._key_tries += 1
        self._key_step = (Timer.SET_KEY, now_s + self.timers.match_response_s)
        request = SetKeyReq(self._nid, self._keys.nmk, my_nonce=self._keys.nonce)
        return [Send(Frame(self.modem_mac, self.evse_mac, request))]

    def _on_set_key_cnf(self, message: SetKeyCnf, now_s: float) -> list[Action]:
        if self._state is not Phase.SETTING_KEY:
            return []
        self._key_step = None
        if not message.succeeded:
            return self._fail(f"the local modem refused CM_SET_KEY.REQ (result {message.result})")
        self._state = Phase.WAIT_PARM_REQ
        return [Note(f"modem has the new key (NID {self._nid.hex()}); waiting for the EV")]

    def _on_set_key_timeout(self, now_s: float) -> list[Action]:
        if self._key_tries <= self.timers.match_retry:
            return [Note("no CM_SET_KEY.CNF; repeating"), *self._send_set_key(now_s)]
        return self._fail(
            f"the local modem did not confirm CM_SET_KEY.REQ ({self._key_tries} tries)"
        )

    # -- the matching runs ----------------------------------------------------------

    def _on_parm_req(self, ev_mac: bytes, message: SlacParmReq, now_s: float) -> list[Action]:
        if message.application_type != APPLICATION_PEV_EVSE:
            return [Note(f"CM_SLAC_PARM.REQ application type {message.application_type}")]
        if message.security_type != SECURITY_NONE:
            # Only "no security" is offered; the EV retries or gives up.
            return [Note("CM_SLAC_PARM.REQ with security type 1 ignored (not supported)")]
        if self._state is not Phase.WAIT_PARM_REQ:
            return [Note(f"CM_SLAC_PARM.REQ from {mac_text(ev_mac)} ignored ({self.phase.value})")]
        if ev_mac not in self._runs and len(self._runs) >= MAX_RUNS:
            return [Note(f"CM_SLAC_PARM.REQ from {mac_text(ev_mac)} ignored: {MAX_RUNS} runs")]
        # A repeated request (our CNF was lost) or a new RunID restarts the EV's run
        # [V2G3-A09-16]; the give-up deadline only runs while no run is in flight.
        run = _Run(ev_mac, message.run_id)
        run.step = (Timer.MATCH_SEQUENCE, now_s + self.timers.match_sequence_s)
        self._runs[ev_mac] = run
        self._give_up = None
        confirm = SlacParmCnf(
            forwarding_sta=ev_mac,
            run_id=message.run_id,
            num_sounds=self.timers.num_sounds,
            time_out_100ms=round(self.timers.match_mnbc_s * 10),
        )
        return [Send(Frame(ev_mac, self.evse_mac, confirm))]

    def _on_start_atten(self, run: _Run, num_sounds: int, now_s: float) -> list[Action]:
        if run.phase is not Phase.WAIT_START_ATTEN:
            return []  # the EV sends C_EV_start_atten_char_inds (3) copies
        run.phase = Phase.SOUNDING
        run.expected_sounds = max(1, min(num_sounds, self.timers.num_sounds))
        run.step = (Timer.MATCH_MNBC, now_s + self.timers.match_mnbc_s)
        return []

    def _on_sound(self, run: _Run, now_s: float) -> list[Action]:
        actions: list[Action] = []
        if run.phase is Phase.WAIT_START_ATTEN:
            # Every CM_START_ATTEN_CHAR.IND lost: the sounds themselves start the window.
            actions += self._on_start_atten(run, self.timers.num_sounds, now_s)
        if run.phase is Phase.SOUNDING:
            run.sounds_heard += 1
        return actions

    def _on_profile(self, run: _Run, message: AttenProfileInd, now_s: float) -> list[Action]:
        actions: list[Action] = []
        if run.phase is Phase.WAIT_START_ATTEN:
            actions += self._on_start_atten(run, self.timers.num_sounds, now_s)
        if run.phase is not Phase.SOUNDING:
            return actions
        if not run.sums_db:
            run.sums_db = [0] * len(message.groups_db)
        if len(message.groups_db) != len(run.sums_db):
            return [*actions, Note("CM_ATTEN_PROFILE.IND with another group count ignored")]
        run.sums_db = [a + b for a, b in zip(run.sums_db, message.groups_db, strict=True)]
        run.profiles += 1
        if run.profiles >= run.expected_sounds:
            actions += self._send_atten_char(run, now_s)
        return actions

    def _send_atten_char(self, run: _Run, now_s: float) -> list[Action]:
        """Average the profiles per group and report them to the EV [V2G3-A09-19]."""
        if run.profiles == 0:
            return self._end_run(
                run,
                "no CM_ATTEN_PROFILE.IND from the local modem within TT_EVSE_match_MNBC",
                now_s,
            )
        if not run.average_db:
            run.average_db = tuple(
                min(255, (total + run.profiles // 2) // run.profiles) for total in run.sums_db
            )
        run.phase = Phase.WAIT_ATTEN_RSP
        run.tries += 1
        run.step = (Timer.MATCH_RESPONSE, now_s + self.timers.match_response_s)
        indication = AttenCharInd(run.ev_mac, run.run_id, run.profiles, run.average_db)
        return [Send(Frame(run.ev_mac, self.evse_mac, indication))]

    def _on_atten_rsp(self, run: _Run, message: AttenCharRsp, now_s: float) -> list[Action]:
        if run.phase is not Phase.WAIT_ATTEN_RSP or message.source_address != run.ev_mac:
            return []
        if message.result != 0:
            return self._end_run(
                run, f"EV answered CM_ATTEN_CHAR.IND with result {message.result}", now_s
            )
        run.phase = Phase.WAIT_MATCH_REQ
        run.step = (Timer.MATCH_SESSION, now_s + self.timers.match_session_s)
        return []

    def _on_match_req(self, run: _Run, source: bytes, message: SlacMatchReq) -> list[Action]:
        if run.phase not in (Phase.WAIT_ATTEN_RSP, Phase.WAIT_MATCH_REQ, Phase.MATCHED):
            return []
        if message.evse_mac != self.evse_mac or message.pev_mac != run.ev_mac:
            return [Note("CM_SLAC_MATCH.REQ for another EVSE or EV ignored")]
        assert self._keys is not None
        confirm = SlacMatchCnf(run.ev_mac, self.evse_mac, run.run_id, self._nid, self._keys.nmk)
        actions: list[Action] = [Send(Frame(source, self.evse_mac, confirm))]
        if run.phase is Phase.MATCHED:
            return actions  # the EV repeated its request: our CNF was lost
        run.phase = Phase.MATCHED
        run.step = None
        # The EV that chose this EVSE ends every other run (neighbours' EVs).
        self._runs = {run.ev_mac: run}
        self._state = Phase.MATCHED
        self._give_up = None
        average = sum(run.average_db) / len(run.average_db) if run.average_db else 0.0
        self.match = SlacMatch(
            run.ev_mac, self.evse_mac, run.run_id, self._nid, self._keys.nmk, average
        )
        return [*actions, Matched(self.match)]

    # -- timers and failures --------------------------------------------------------

    def _on_step_timeout(self, run: _Run, timer: Timer, now_s: float) -> list[Action]:
        if timer is Timer.MATCH_SEQUENCE:
            return self._end_run(run, "no CM_START_ATTEN_CHAR.IND within TT_match_sequence", now_s)
        if timer is Timer.MATCH_MNBC:
            return self._send_atten_char(run, now_s)
        if timer is Timer.MATCH_RESPONSE:
            if run.tries <= self.timers.match_retry:
                return [
                    Note("no CM_ATTEN_CHAR.RSP; repeating"),
                    *self._send_atten_char(run, now_s),
                ]
            return self._end_run(run, f"no CM_ATTEN_CHAR.RSP after {run.tries} tries", now_s)
        # Silence after the attenuation exchange is no failure: the EV matched elsewhere.
        return self._end_run(
            run,
            "no CM_SLAC_MATCH.REQ within TT_EVSE_match_session (the EV chose another EVSE?)",
            now_s,
            failed=False,
        )

    def _end_run(self, run: _Run, reason: str, now_s: float, failed: bool = True) -> list[Action]:
        """A run that ended without a match. After a failure the EV starts another run
        [V2G3-A09-124] within TT_matching_repetition of the first failure [V2G3-A09-125];
        while no run is in flight that deadline (or TT_EVSE_SLAC_init) is armed."""
        self._runs.pop(run.ev_mac, None)
        who = mac_text(run.ev_mac)
        actions: list[Action] = [
            Note(f"matching run of {who} {'failed' if failed else 'ended'}: {reason}")
        ]
        if failed and self._repeat_until_s is None:
            self._repeat_until_s = now_s + self.timers.matching_repetition_s
        if self._runs:
            return actions
        if self._repeat_until_s is not None:
            self._give_up = (Timer.MATCHING_REPETITION, self._repeat_until_s)
        else:
            self._give_up = (Timer.SLAC_INIT, self._init_until_s)
        if now_s >= self._give_up[1]:
            return [*actions, *self._on_give_up(self._give_up[0])]
        return [*actions, Note("waiting for the EV to start a new run")]

    def _on_give_up(self, timer: Timer) -> list[Action]:
        if timer is Timer.SLAC_INIT:
            return self._fail("no CM_SLAC_PARM.REQ within TT_EVSE_SLAC_init")
        return self._fail("every matching run failed within TT_matching_repetition")

    def _fail(self, reason: str) -> list[Action]:
        self._state = Phase.FAILED
        self.failure = reason
        self._runs = {}
        self._key_step = None
        self._give_up = None
        return [Failed(reason)]


def message_run_id(message: object) -> bytes | None:
    """The RunID a message carries, or None for modem messages that carry none."""
    run_id = getattr(message, "run_id", None)
    return run_id if isinstance(run_id, bytes) else None
