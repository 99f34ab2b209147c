"""`v2g` as a user runs it, from the tests: a free port, one command, the API over
HTTP, and `v2g serve` as a process (up once its first cycle ran)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


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
