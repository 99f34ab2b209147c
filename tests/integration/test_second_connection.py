"""Connections that are not the EV's, against the real iso15118 SECC (in ``v2g
secc``) and the package's own EVCC over SDP and TCP:

- a second connection during a live session: its valid SupportedAppProtocolReq never
  reaches the package (it used to reset the live session mid-charge), and the EV's
  session carries on to its end;
- an idle connection made through SDP: it is closed unseen and SDP keeps answering,
  so the next EV gets its session (SDP used to stay silent for ~25 s; the EV gave up).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.integration.processes import drive_ev, v2g_process
from v2g.secc.loopback.netns import NetnsEnd, veth_link
from v2g.secc.loopback.spec import LoopbackSpec

pytestmark = pytest.mark.netns

CORPUS = Path(__file__).parents[1] / "data" / "exi_corpus.json"

#: Run in the vehicle's namespace: connect to the SECC, send one V2GTP message, print
#: what came back (hex; empty when the SECC closed without answering).
INTRUDER = """
import socket, sys
host, port, interface, message = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with socket.create_connection((f"{host}%{interface}", port), timeout=10) as s:
    s.sendall(bytes.fromhex(message))
    s.settimeout(10)
    try:
        data = s.recv(4096)
    except (ConnectionResetError, TimeoutError):
        data = b""
print(data.hex())
"""


#: Run in the vehicle's namespace: SDP (no TLS, TCP) on the link, then a TCP connection
#: to the answer that sends nothing and stays open for argv[2] seconds.
IDLE = """
import socket, struct, sys, time
interface, hold_s = sys.argv[1], float(sys.argv[2])
scope = socket.if_nametoindex(interface)
sdp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
sdp.settimeout(1)
for _ in range(20):
    sdp.sendto(bytes([1, 0xFE, 0x90, 0, 0, 0, 0, 2, 0x10, 0]), ("ff02::1", 15118, 0, scope))
    try:
        answer, _ = sdp.recvfrom(64)
        break
    except TimeoutError:
        continue
payload = answer[8:]
host = socket.inet_ntop(socket.AF_INET6, payload[:16])
port = struct.unpack(">H", payload[16:18])[0]
idle = socket.create_connection((f"{host}%{interface}", port), timeout=10)
print("connected", flush=True)
time.sleep(hold_s)
"""


def supported_app_protocol_req() -> bytes:
    """A valid SupportedAppProtocolReq (from the EXI corpus) in its V2GTP frame."""
    messages = json.loads(CORPUS.read_text(encoding="utf-8"))["messages"]
    body = next(
        bytes.fromhex(m["hex"])
        for m in messages
        if "supportedAppProtocolReq" in json.dumps(m["json"])
    )
    return bytes([0x01, 0xFE, 0x80, 0x01]) + len(body).to_bytes(4, "big") + body


def wait_for(pattern: str, path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if re.search(pattern, path.read_text(encoding="utf-8")):
            return
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not logged:\n{path.read_text()[-3000:]}")


def intrude(vehicle: NetnsEnd, host: str, port: int) -> str:
    done = subprocess.run(
        vehicle.command(
            sys.executable,
            "-c",
            INTRUDER,
            host,
            str(port),
            vehicle.interface,
            supported_app_protocol_req().hex(),
        ),
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


def test_a_second_connection_during_a_session_is_closed_and_the_session_carries_on(tmp_path):
    spec = LoopbackSpec(
        protocol="iso20-dc-bpt",
        ev_timeout_scale=4.0,
        session_timeout_s=90,
        # Long enough (~3 s unloaded) that the intruder, a fresh Python process doing
        # SDP, connects while the session is live: 60 loops took 0.16 s, and under load
        # the intruder came after SessionStop and was rightly answered.
        charge_loop_cycles=1000,
    )
    spec.write(tmp_path / "spec.json")
    with veth_link(f"i{os.getpid()}") as (charger, vehicle):
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "dc"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "max_current_a = 100\nfallback_power_w = 4600\n",
            encoding="utf-8",
        )
        log = tmp_path / "secc.log"
        with v2g_process(charger, log, "secc", "--config", str(tmp_path / "charger.toml")):
            ev = threading.Thread(
                target=drive_ev, args=(vehicle, tmp_path / "spec.json", tmp_path / "ev.json")
            )
            ev.start()
            try:
                wait_for(r"EV DC_ChargeLoopReq -> SECC DC_ChargeLoopRes", log, 60)
                # The TCP server the EV found through SDP (the last one started).
                host, port = re.findall(
                    r"TCP server started at address (\S+)%\S+ and port (\d+)", log.read_text()
                )[-1]
                answer = intrude(vehicle, host, int(port))
            finally:
                ev.join(timeout=150)
    log_text = log.read_text(encoding="utf-8")
    assert answer == "", "the intruder got an answer from the SECC"
    assert "a session is live on this EVSE" in log_text
    result = json.loads((tmp_path / "ev.json").read_text())
    assert result["completed"], log_text[-3000:]
    # The package saw one connection only: one SupportedAppProtocol, one session.
    assert log_text.count("EV supportedAppProtocolReq -> SECC") == 1, log_text[-3000:]


def test_an_idle_connection_does_not_silence_sdp_for_the_next_ev(tmp_path):
    spec = LoopbackSpec(protocol="iso20-ac-bpt", ev_timeout_scale=4.0, session_timeout_s=60)
    spec.write(tmp_path / "spec.json")
    with veth_link(f"d{os.getpid()}") as (charger, vehicle):
        (tmp_path / "charger.toml").write_text(
            f'[[evse]]\nevse_id = "DE*V2G*E0042"\ninterface = "{charger.interface}"\n'
            'current = "ac"\nmax_charge_power_w = 11000\nmax_discharge_power_w = 7000\n'
            "fallback_power_w = 4600\n",
            encoding="utf-8",
        )
        log = tmp_path / "secc.log"
        with (
            v2g_process(charger, log, "secc", "--config", str(tmp_path / "charger.toml")),
            subprocess.Popen(
                vehicle.command(sys.executable, "-c", IDLE, vehicle.interface, "40"),
                stdout=subprocess.PIPE,
                text=True,
            ) as idle,
        ):
            assert idle.stdout is not None
            assert idle.stdout.readline().strip() == "connected"
            started = time.monotonic()
            drive_ev(vehicle, tmp_path / "spec.json", tmp_path / "ev.json")
            took_s = time.monotonic() - started
            time.sleep(max(0.0, 3.0 - took_s))  # the guard's 2 s run out
            idle.terminate()
    log_text = log.read_text(encoding="utf-8")
    result = json.loads((tmp_path / "ev.json").read_text())
    assert result["completed"], log_text[-3000:]
    # SDP paused by the idle connection kept the EV waiting ~25 s (20 s + 5 s).
    assert took_s < 15, f"the EV's session took {took_s:.0f} s"
    assert "nothing sent within 2 s (SDP stays open)" in log_text
