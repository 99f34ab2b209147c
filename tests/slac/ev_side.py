"""The vehicle side of SLAC (ISO 15118-3 Annex A.9, EV role), written for the tests
with struct alone and no import from v2g.slac, so the product's frames are checked
against a second, independent reading of the field tables.

Blocking, for a thread: one matching run with the EV's timers (Table A.1):
CM_SLAC_PARM.REQ (answered within TT_match_response, C_EV_match_retry repetitions),
C_EV_start_atten_char_inds CM_START_ATTEN_CHAR.IND and C_EV_match_MNBC sounds
(TP_EV_batch_msg_interval apart), CM_ATTEN_CHAR.IND collected for TT_EV_atten_results
and answered, then CM_SLAC_MATCH.REQ to the EVSE with the lowest mean attenuation.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field

BROADCAST = b"\xff" * 6
TT_MATCH_RESPONSE_S = 0.2
TT_EV_ATTEN_RESULTS_S = 1.2
TP_EV_BATCH_MSG_INTERVAL_S = 0.02
C_EV_MATCH_RETRY = 2
C_EV_START_ATTEN_CHAR_INDS = 3
C_EV_MATCH_MNBC = 10


@dataclass
class EvOutcome:
    run_id: bytes
    evse_mac: bytes | None = None
    nid: bytes | None = None
    nmk: bytes | None = None
    failure: str | None = None
    #: Mean attenuation (dB) per answering EVSE MAC.
    attenuation_db: dict[bytes, float] = field(default_factory=dict)
    parm_cnf_from: list[bytes] = field(default_factory=list)


class IndependentEv:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.mac = bytes(sock.getsockname()[4][:6])

    def send(self, destination: bytes, mmtype: int, payload: bytes) -> None:
        header = destination + self.mac + b"\x88\xe1" + struct.pack("<BHH", 1, mmtype, 0)
        self.sock.send((header + payload).ljust(60, b"\x00"))

    def collect(self, mmtype: int, run_id: bytes, run_id_at: int, until: float, answer=None):
        """(source MAC, payload) of every frame of ``mmtype`` for our RunID until then;
        ``answer(source, payload)`` is called as each one arrives."""
        frames = []
        while (left := until - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1600)
            except TimeoutError:
                break
            if data[0:6] not in (self.mac, BROADCAST) or data[12:14] != b"\x88\xe1":
                continue
            if struct.unpack_from("<H", data, 15)[0] != mmtype:
                continue
            payload = data[19:]
            if payload[run_id_at : run_id_at + 8] == run_id:
                frames.append((data[6:12], payload))
                if answer is not None:
                    answer(data[6:12], payload)
        return frames

    def run(self) -> EvOutcome:
        outcome = EvOutcome(run_id=os.urandom(8))
        run_id = outcome.run_id
        confirms = []
        for _ in range(1 + C_EV_MATCH_RETRY):
            self.send(BROADCAST, 0x6064, bytes([0, 0]) + run_id)  # CM_SLAC_PARM.REQ
            # CM_SLAC_PARM.CNF: RunID after M-SOUND_TARGET(6) NUM(1) TO(1) RESP(1) FWD(6) 2
            confirms = self.collect(0x6065, run_id, 17, time.monotonic() + TT_MATCH_RESPONSE_S)
            if confirms:
                break
        if not confirms:
            outcome.failure = "no CM_SLAC_PARM.CNF"
            return outcome
        outcome.parm_cnf_from = [source for source, _ in confirms]
        sounds, time_out = confirms[0][1][6], confirms[0][1][7]
        started = time.monotonic()
        for _ in range(C_EV_START_ATTEN_CHAR_INDS):
            start = struct.pack("<BBBBB6s8s", 0, 0, sounds, time_out, 1, self.mac, run_id)
            self.send(BROADCAST, 0x606A, start)
            time.sleep(TP_EV_BATCH_MSG_INTERVAL_S)
        for left in reversed(range(sounds)):
            sound = struct.pack("<BB17sB8s8s16s", 0, 0, bytes(17), left, run_id, bytes(8),
                                os.urandom(16))  # fmt: skip
            self.send(BROADCAST, 0x6076, sound)
            time.sleep(TP_EV_BATCH_MSG_INTERVAL_S)

        # CM_ATTEN_CHAR.IND: APP SEC SOURCE_ADDRESS(6) RunID(8) ...
        def acknowledge(source: bytes, payload: bytes) -> None:
            groups = payload[52 : 52 + payload[51]]
            outcome.attenuation_db[source] = sum(groups) / len(groups)
            answer = struct.pack("<BB6s8s17s17sB", 0, 0, self.mac, run_id, bytes(17),
                                 bytes(17), 0)  # fmt: skip
            self.send(source, 0x606F, answer)  # CM_ATTEN_CHAR.RSP, within TT_match_response

        self.collect(0x606E, run_id, 8, started + TT_EV_ATTEN_RESULTS_S, acknowledge)
        if not outcome.attenuation_db:
            outcome.failure = "no CM_ATTEN_CHAR.IND"
            return outcome
        chosen = min(outcome.attenuation_db, key=outcome.attenuation_db.__getitem__)
        request = struct.pack("<BBH17s6s17s6s8s8s", 0, 0, 62, bytes(17), self.mac, bytes(17),
                              chosen, run_id, bytes(8))  # fmt: skip
        for _ in range(1 + C_EV_MATCH_RETRY):
            self.send(chosen, 0x607C, request)  # CM_SLAC_MATCH.REQ
            # CM_SLAC_MATCH.CNF: RunID at 4 + 17 + 6 + 17 + 6 = 50
            answers = self.collect(0x607D, run_id, 50, time.monotonic() + TT_MATCH_RESPONSE_S)
            if answers:
                source, payload = answers[0]
                outcome.evse_mac = source
                outcome.nid, outcome.nmk = payload[66:73], payload[74:90]
                return outcome
        outcome.failure = "no CM_SLAC_MATCH.CNF"
        return outcome
