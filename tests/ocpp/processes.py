"""Real processes for the OCPP tests: ``v2g serve`` as the CSMS and an ocpp-rpc
charging station (``peer/station.js``, Node) scripted line by line."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PEER = Path(__file__).parent / "peer"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def v2g(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "v2g", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def api(port: int, method: str, path: str, token: str, body: object = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Service:
    """``v2g serve --config`` until ``stop``; up once its first cycle ran."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        with log.open("a") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "v2g", "serve", "--config", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/v1/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if json.loads(response.read())["cycle"]:
                        return
            except OSError:
                pass
            assert self.process.poll() is None, log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"v2g serve did not come up: {log.read_text()}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)


def node_peer_ready() -> None:
    """Skips unless Node and the peer's packages (``npm ci`` in tests/ocpp/peer) are here."""
    if shutil.which("node") is None or not (PEER / "node_modules" / "ocpp-rpc").is_dir():
        reason = "needs node and `npm ci` in tests/ocpp/peer (.ci/run does both)"
        if os.environ.get("V2G_REQUIRE_NODE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


class NodePeer:
    """An ocpp-rpc script (``peer/SCRIPT``) speaking JSON lines; what it reported and
    no one waited for yet is kept in ``seen``."""

    def __init__(self, script: str, *args: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(PEER / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.seen: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(json.loads(line))

    def wait_for(
        self, wanted: Callable[[dict[str, Any]], bool], timeout_s: float = 20.0
    ) -> dict[str, Any]:
        for event in self.seen:
            if wanted(event):
                self.seen.remove(event)
                return event
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if wanted(event):
                return event
            self.seen.append(event)
        raise AssertionError(f"timed out; the station saw {self.seen}")

    def _send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Csms(NodePeer):
    """An ocpp-rpc CSMS on ``port`` accepting one station."""

    def __init__(self, port: int, identity: str, password: str, protocol: str) -> None:
        super().__init__("csms.js", str(port), identity, password, protocol)
        self.wait_for(lambda e: e["event"] == "listening")

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self._send({"op": "call", "action": action, "params": params})
        return self.wait_for(
            lambda e: e["event"] in ("result", "callerror") and e["action"] == action
        )


class Station(NodePeer):
    """An ocpp-rpc charging station: ``call`` returns its answer."""

    def __init__(self, url: str, identity: str, password: str, protocol: str) -> None:
        super().__init__("station.js", url, identity, password, protocol)
        self.opened = self.wait_for(lambda e: e["event"] in ("open", "error", "close"))

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """The station's CALL and the CSMS's answer (event ``result`` or ``callerror``)."""
        self._send({"op": "call", "action": action, "params": params})
        return self.wait_for(
            lambda e: e["event"] in ("result", "callerror") and e["action"] == action
        )

    def raw(self, frame: str | list[Any], answer_id: str | None = None) -> list[Any]:
        """Sends ``frame`` as is and returns the CSMS's answer to message id
        ``answer_id`` (default: the frame's own id), parsed."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        wanted = answer_id or (frame[1] if isinstance(frame, list) else "-1")
        self._send({"op": "raw", "text": text})

        def answers(event: dict[str, Any]) -> bool:
            if event["event"] != "message":
                return False
            data = json.loads(event["text"])
            return bool(data[0] in (3, 4) and data[1] == wanted)

        return list(json.loads(self.wait_for(answers)["text"]))
