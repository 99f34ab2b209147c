"""Real processes for the OCPP tests: ``v2g serve`` as the CSMS and an ocpp-rpc
charging station (``peer/station.js``, Node) scripted line by line."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.service.processes import Service, api, free_port, v2g
from v2g.ocpp.frames import OcppVersion
from v2g.ocpp.station_config import OcppStationConfig

__all__ = ["Service", "api", "free_port", "v2g"]

PEER = Path(__file__).parent / "peer"


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

    def __init__(self, script: str, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            ["node", str(PEER / script), *args],
            env={**os.environ, **(env or {})},
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

    def __init__(
        self,
        url: str,
        identity: str,
        password: str,
        protocol: str,
        env: dict[str, str] | None = None,
    ) -> None:
        """``env``: OCPP_CA, OCPP_CERT, OCPP_KEY for wss:// (see peer/station.js)."""
        super().__init__("station.js", url, identity, password, protocol, env=env)
        self.opened = self.wait_for(lambda e: e["event"] in ("open", "error", "close"))

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """The station's CALL and the CSMS's answer (event ``result`` or ``callerror``)."""
        self._send({"op": "call", "action": action, "params": params})
        return self.wait_for(
            lambda e: e["event"] in ("result", "callerror") and e["action"] == action
        )

    def answer(self, action: str, result: dict[str, Any]) -> None:
        """From now on the CSMS's ``action`` is answered with ``result``."""
        self._send({"op": "answer", "action": action, "result": result})

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


def station_cs1(port: int, tmp_path: Path) -> OcppStationConfig:
    """Station CS-1 (OCPP 2.0.1, one EVSE) of a CSMS on ``port``, its queue and list
    in ``tmp_path / "queue"``."""
    return OcppStationConfig(
        csms_url=f"ws://127.0.0.1:{port}/ocpp",
        station_id="CS-1",
        password_file=None,
        version=OcppVersion.V201,
        queue_dir=tmp_path / "queue",
        evses={"E1": 1},
    )
