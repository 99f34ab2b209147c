"""A simulated HomePlug Green PHY modem of one charger, written with struct alone.

It sits on the charger's bridge port (tests/slac/plc_medium.py) and plays the two
parts of a real modem that SLAC depends on:

- it answers CM_SET_KEY.REQ from its host with CM_SET_KEY.CNF (unless ``answers`` is
  False: the modem that never answers), remembering the NMK;
- for each CM_MNBC_SOUND.IND the medium brings to its host it sends the host a
  CM_ATTEN_PROFILE.IND with 58 groups of ``attenuation_db`` (the charger's distance
  from the EV as a real modem would measure it; one value, or one per EV MAC).
"""

from __future__ import annotations

import socket
import struct
import threading

from tests.slac.plc_medium import ETH_P_ALL, raw_socket

PACKET_OUTGOING = 4
SET_KEY_REQ, SET_KEY_CNF = 0x6008, 0x6009
MNBC_SOUND_IND, ATTEN_PROFILE_IND = 0x6076, 0x6086


class SimulatedModem:
    def __init__(
        self,
        namespace: str,
        port: str,
        host_mac: bytes,
        attenuation_db: int | dict[bytes, int],
        answers: bool = True,
        modem_mac: bytes = bytes.fromhex("02b052000001"),
    ) -> None:
        self.host_mac = host_mac
        self.modem_mac = modem_mac
        self.attenuation_db = attenuation_db
        self.answers = answers
        self.nmk: bytes | None = None
        self.set_key_requests = 0
        self.profiles_sent = 0
        self._sock = raw_socket(namespace, port, ETH_P_ALL)
        self._sock.settimeout(0.05)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> SimulatedModem:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                data, address = self._sock.recvfrom(1600)
            except TimeoutError:
                continue
            if len(data) < 19 or data[12:14] != b"\x88\xe1" or data[6:12] == self.modem_mac:
                continue
            (mmtype,) = struct.unpack_from("<H", data, 15)
            toward_host = address[2] == PACKET_OUTGOING  # the bridge sends it to the host
            if not toward_host and mmtype == SET_KEY_REQ and data[6:12] == self.host_mac:
                self._on_set_key(data)
            elif toward_host and mmtype == MNBC_SOUND_IND and self.answers:
                ev_mac = data[6:12]
                attenuation = (
                    self.attenuation_db[ev_mac]
                    if isinstance(self.attenuation_db, dict)
                    else self.attenuation_db
                )
                self._send(ATTEN_PROFILE_IND, ev_mac + bytes([58, 0] + [attenuation] * 58))
                self.profiles_sent += 1

    def _on_set_key(self, data: bytes) -> None:
        self.set_key_requests += 1
        if not self.answers:
            return
        payload = data[19:]
        my_nonce = payload[1:5]
        self.nmk = payload[22:38]
        # Result 0 (success), our nonce, the host's nonce echoed, PID, PRN, PMN, CCo.
        self._send(SET_KEY_CNF, struct.pack("<B4s4sBHBB", 0, b"\x00" * 4, my_nonce, 4, 0, 0, 0))

    def _send(self, mmtype: int, payload: bytes) -> None:
        frame = self.host_mac + self.modem_mac + struct.pack("!H", 0x88E1)
        frame += struct.pack("<BHH", 1, mmtype, 0) + payload
        self._sock.send(frame.ljust(60, b"\x00"))


def host_mac_of(sock: socket.socket) -> bytes:
    return bytes(sock.getsockname()[4][:6])
