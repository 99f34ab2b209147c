"""Benchmark: 1,000 OCPP 2.1 stations on one ``v2g serve`` (a real subprocess).

    .venv/bin/python -m tests.benchmarks.bench_ocpp [--stations 1000] [--workers 2]
        [--meter-seconds 10] [--network mv-oberrhein]

The stations are light Python clients (aiohttp WebSockets, basic auth), spread over
``--workers`` processes. Measured, each with the load average printed beside it:

1. connect storm: every station connects, boots and reports its connector at once;
   time until the last is booted, and per-station connect+boot latency.
2. memory per connection: ``v2g serve``'s RSS after the storm minus before, / stations.
3. first profile: each station starts a transaction (and reports urgent V2X needs);
   time until every station holds a SetChargingProfile.
4. plan → SetChargingProfile at every station: the operator sets new prices (dear
   now, cheap later; ``POST /api/v1/commands``), so the next plan moves every vehicle
   from full power to 0 W; per station the time from the plan (the CSMS's
   ``startSchedule``, stamped when the setpoint is posted) and from the command to the
   profile's arrival. Goal: p99 < 1 s.
5. meter-value ingestion: every station sends TransactionEvent(Updated) with meter
   values for ``--meter-seconds``, first one every ``--meter-interval-s`` (paced:
   latency at a given rate), then back to back (saturated: the most the CSMS answers
   per second; latency is then queueing): answered per second, latency p50/p99, and
   the rows the store took (``meter_values``) per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from tests.service import processes
from tests.service.processes import api, free_port


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def now_text(offset_s: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=offset_s)
    return moment.isoformat().replace("+00:00", "Z")


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- one simulated station ------------------------------------------------------------


class Station:
    """A light OCPP 2.1 station: calls with latency, answers SetChargingProfile."""

    def __init__(self, station_id: str, password: str, url: str) -> None:
        self.station_id = station_id
        self.password = password
        self.url = f"{url}/{station_id}"
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.ids = 0
        self.seq_no = 0
        #: (arrival wall time, startSchedule, setpoint) of each SetChargingProfile.
        self.profiles: list[tuple[float, str, float]] = []
        self.changed = asyncio.Event()
        self.mark = 0

    async def connect(self, http: aiohttp.ClientSession) -> None:
        self.socket = await http.ws_connect(
            self.url,
            protocols=("ocpp2.1",),
            headers={"Authorization": _basic(self.station_id, self.password)},
            heartbeat=None,
            autoping=True,
        )
        asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame[0] in (3, 4):
                future = self.pending.pop(frame[1], None)
                if future is not None and not future.done():
                    future.set_result(frame)
            elif frame[0] == 2:
                arrived = time.time()
                if frame[2] == "SetChargingProfile":
                    schedule = frame[3]["chargingProfile"]["chargingSchedule"][0]
                    period = schedule["chargingSchedulePeriod"][0]
                    self.profiles.append(
                        (arrived, schedule["startSchedule"], float(period.get("setpoint", 0)))
                    )
                    self.changed.set()
                    await self.socket.send_str(json.dumps([3, frame[1], {"status": "Accepted"}]))
                else:
                    await self.socket.send_str(json.dumps([4, frame[1], "NotSupported", "", {}]))

    async def call(self, action: str, payload: dict[str, Any]) -> float:
        """Seconds from sending ``action`` to its answer (raises on a CALLERROR)."""
        assert self.socket is not None
        self.ids += 1
        message_id = str(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        started = time.perf_counter()
        await self.socket.send_str(json.dumps([2, message_id, action, payload]))
        frame = await asyncio.wait_for(future, 60)
        if frame[0] == 4:
            raise RuntimeError(f"{self.station_id} {action}: {frame[2]} {frame[3]}")
        return time.perf_counter() - started

    def transaction(self, event_type: str, power_w: float) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": now_text(),
            "triggerReason": "CablePluggedIn" if event_type == "Started" else "MeterValuePeriodic",
            "seqNo": self.seq_no,
            "transactionInfo": {"transactionId": "tx-1"},
            "meterValue": [
                {
                    "timestamp": now_text(),
                    "sampledValue": [
                        {"value": power_w, "measurand": "Power.Active.Import"},
                        {"value": 50, "measurand": "SoC", "unitOfMeasure": {"unit": "Percent"}},
                    ],
                }
            ],
        }
        if event_type == "Started":
            payload["evse"] = {"id": 1, "connectorId": 1}
            payload["idToken"] = {"idToken": f"EV-{self.station_id}", "type": "Central"}
        self.seq_no += 1
        return payload


NEEDS = {
    "evseId": 1,
    "chargingNeeds": {
        "requestedEnergyTransfer": "AC_BPT",
        "v2xChargingParameters": {
            "maxChargePower": 7400,
            "maxDischargePower": 7400,
            "evTargetEnergyRequest": 14000,
        },
    },
}


# -- a worker process: its share of the stations ---------------------------------------


async def _serve_commands(pipe: Connection, stations: list[Station]) -> None:
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        while True:
            command, argument = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                for station in stations:
                    if station.socket is not None:
                        await station.socket.close()
                pipe.send({})
                return
            result = await _COMMANDS[command](http, stations, argument)
            pipe.send(result)


async def _connect(http: aiohttp.ClientSession, stations: list[Station], start: float) -> dict:
    while time.time() < start:
        await asyncio.sleep(0.001)
    latencies: list[float] = []
    failures = 0

    async def one(station: Station) -> None:
        nonlocal failures
        began = time.perf_counter()
        try:
            await station.connect(http)
            boot = {
                "reason": "PowerUp",
                "chargingStation": {"model": "bench", "vendorName": "v2g"},
            }
            await station.call("BootNotification", boot)
            status = {
                "timestamp": now_text(),
                "connectorStatus": "Occupied",
                "evseId": 1,
                "connectorId": 1,
            }
            await station.call("StatusNotification", status)
            latencies.append(time.perf_counter() - began)
        except Exception:
            failures += 1

    await asyncio.gather(*(one(s) for s in stations))
    return {"latencies": latencies, "failures": failures, "done_at": time.time()}


async def _start(http: aiohttp.ClientSession, stations: list[Station], _arg: Any) -> dict:
    sent_at = time.time()

    async def one(station: Station) -> None:
        await station.call("TransactionEvent", station.transaction("Started", 7000))
        needs = json.loads(json.dumps(NEEDS))
        # 14 kWh by 3.5 h from now: 1.9 h at 7.4 kW, placed where power is cheap.
        needs["chargingNeeds"]["departureTime"] = now_text(3.5 * 3600)
        await station.call("NotifyEVChargingNeeds", needs)

    await asyncio.gather(*(one(s) for s in stations))
    return {"sent_at": sent_at}


async def _mark(http: aiohttp.ClientSession, stations: list[Station], _arg: Any) -> dict:
    """From now on only profiles that arrive later count; the setpoints held now."""
    for station in stations:
        station.mark = len(station.profiles)
    return {"held": [s.profiles[-1][2] if s.profiles else None for s in stations]}


async def _await_profiles(
    http: aiohttp.ClientSession, stations: list[Station], timeout_s: float
) -> dict:
    """Waits until each station got a profile since the mark (or ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(len(s.profiles) > s.mark for s in stations):
            break
        await asyncio.sleep(0.05)
    return {
        "profiles": [s.profiles[s.mark] if len(s.profiles) > s.mark else None for s in stations]
    }


async def _meter(
    http: aiohttp.ClientSession, stations: list[Station], argument: tuple[float, float, float]
) -> dict:
    """Each station sends meter values for ``seconds``: one every ``interval_s``
    (spread evenly), or back to back when ``interval_s`` is 0."""
    start, seconds, interval_s = argument
    while time.time() < start:
        await asyncio.sleep(0.001)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def one(n: int, station: Station) -> None:
        if interval_s:
            await asyncio.sleep(interval_s * n / len(stations))
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            latencies.append(
                await station.call("TransactionEvent", station.transaction("Updated", 7000))
            )
            if interval_s:
                await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - sent)))

    began = time.perf_counter()
    await asyncio.gather(*(one(n, s) for n, s in enumerate(stations)))
    return {"latencies": latencies, "elapsed_s": time.perf_counter() - began}


_COMMANDS = {
    "connect": _connect,
    "start": _start,
    "await_profiles": _await_profiles,
    "mark": _mark,
    "meter": _meter,
}


def worker(pipe: Connection, url: str, credentials: list[tuple[str, str]]) -> None:
    stations = [Station(s, p, url) for s, p in credentials]
    asyncio.run(_serve_commands(pipe, stations))


# -- the site, the service and the run --------------------------------------------------


def write_site(folder: Path, count: int, network: str, api_port: int, ocpp_port: int) -> Path:
    from gridmodel import load_network

    buses = load_network(network).connection_buses()
    lines = [
        "[store]",
        f'url = "sqlite+aiosqlite:///{folder}/v2g.db"',
        "[api]",
        f"port = {api_port}",
        "[grid]",
        f'network = "{network}"',
        "[control]",
        "interval_s = 5",
        "slot_s = 900",
        "horizon_slots = 16",
        "plan_timeout_s = 30",
        "[ocpp]",
        f'listen = "127.0.0.1:{ocpp_port}"',
        "security_profile = 1",
        "call_timeout_s = 30",
    ]
    for n in range(count):
        lines += [
            "[[charger]]",
            f'evse_id = "E{n:04d}"',
            f'station_id = "CS-{n:04d}"',
            "ocpp_evse = 1",
            f"bus = {buses[n % len(buses)]}",
            "max_charge_power_w = 7400",
            "max_discharge_power_w = 7400",
        ]
    path = folder / "site.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def register(config: Path, count: int) -> tuple[list[tuple[str, str]], str]:
    """The stations' passwords and an operator token, made in one process."""
    code = f"""
import asyncio, json, sys
from datetime import UTC, datetime
from v2g.service.config import load_site_config
from v2g.store import SqlStationStore, SqlTokenStore, open_store

async def main():
    config = load_site_config(__import__("pathlib").Path({str(config)!r}))
    config.data_dir() and config.data_dir().mkdir(parents=True, exist_ok=True)
    engine = await open_store(config.store_url)
    now = datetime.now(UTC)
    stations = SqlStationStore(engine)
    out = [(f"CS-{{n:04d}}", await stations.create(f"CS-{{n:04d}}", now)) for n in range({count})]
    _, token = await SqlTokenStore(engine).create("operator", now)
    await engine.dispose()
    print(json.dumps([out, token]))

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    credentials, token = json.loads(done.stdout.strip().splitlines()[-1])
    return [tuple(c) for c in credentials], token


class Service(processes.Service):
    """The service under load, up within 180 s (a loaded machine starts it slowly)."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        super().__init__(config, port, log, up_within_s=180)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def stats_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms, "
        f"max {max(ms) if ms else float('nan'):.0f} ms (n={len(ms)})"
    )


class Bench:
    """One run: the service, the client processes, and each measured step."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder = Path(tempfile.mkdtemp(prefix="bench-ocpp-"))
        self.api_port, ocpp_port = free_port(), free_port()
        config = write_site(self.folder, args.stations, args.network, self.api_port, ocpp_port)
        print(
            f"{args.stations} stations, {args.workers} client processes, network"
            f" {args.network}; {os.cpu_count()} cores; load average at start {loadavg()}"
        )
        credentials, self.token = register(config, args.stations)
        self.service = Service(config, self.api_port, self.folder / "serve.log")
        self.pipes: list[Connection] = []
        self.processes: list[mp.Process] = []
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        for i in range(args.workers):
            parent, child = mp.Pipe()
            share = credentials[i :: args.workers]
            process = mp.Process(target=worker, args=(child, url, share), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def everyone(self, command: str, argument: Any = None) -> list[dict]:
        for pipe in self.pipes:
            pipe.send((command, argument))
        return [pipe.recv() for pipe in self.pipes]

    def command(self, body: dict[str, Any]) -> None:
        status, answer = api(self.api_port, "POST", "/api/v1/commands", self.token, body)
        assert status == 202, answer

    def storm(self) -> None:
        time.sleep(1.0)
        rss_before = rss_kib(self.service.process.pid)
        start = time.time() + 0.5
        results = self.everyone("connect", start)
        storm_s = max(r["done_at"] for r in results) - start
        latencies = [x for r in results for x in r["latencies"]]
        failures = sum(r["failures"] for r in results)
        print(
            f"\n1. connect storm: {len(latencies)} booted, {failures} failed, last booted"
            f" after {storm_s:.2f} s; connect+boot+status per station: {stats_ms(latencies)};"
            f" load average {loadavg()}"
        )
        time.sleep(2.0)
        rss_after = rss_kib(self.service.process.pid)
        per_kib = (rss_after - rss_before) / max(1, len(latencies))
        print(
            f"2. memory: v2g serve RSS {rss_before / 1024:.0f} MiB before, "
            f"{rss_after / 1024:.0f} MiB after; {per_kib:.1f} KiB per connection"
        )

    def first_profiles(self) -> None:
        # Power is cheap for the next 2 h: every vehicle charges at once.
        self.command(_prices([[now_text(-60), 0.10], [now_text(2 * 3600), 0.50]]))
        began = time.time()
        self.everyone("mark")
        self.everyone("start")
        results = self.everyone("await_profiles", 120.0)
        firsts = [p for r in results for p in r["profiles"] if p is not None]
        last = max((p[0] for p in firsts), default=float("nan"))
        print(
            f"3. first profile: {len(firsts)}/{self.args.stations} stations hold one; the last"
            f" {last - began:.2f} s after the transactions started; from the plan:"
            f" {stats_ms([a - _epoch(s) for a, s, _ in firsts])}; load average {loadavg()}"
        )
        # The needs arrive just after the start: let two cycles settle the setpoints.
        time.sleep(self.args.settle_s)
        held = [w for r in self.everyone("mark") for w in r["held"] if w is not None]
        print(
            f"   setpoints held before new prices: {sum(1 for w in held if w > 1)} stations"
            f" charging, {sum(1 for w in held if abs(w) <= 1)} at 0 W"
        )

    def plan_to_profile(self) -> None:
        # Dear for 1.5 h, cheap after: every vehicle waits (0 W now).
        commanded = time.time()
        self.command(_prices([[now_text(-60), 0.50], [now_text(1.5 * 3600), 0.10]]))
        results = self.everyone("await_profiles", 60.0)
        arrivals = [p for r in results for p in r["profiles"] if p is not None]
        from_plan = [a - _epoch(s) for a, s, _ in arrivals]
        from_command = [a - commanded for a, _, _ in arrivals]
        zero = sum(1 for *_, w in arrivals if abs(w) < 1)
        print(
            f"4. plan -> SetChargingProfile: {len(arrivals)}/{self.args.stations} stations got"
            f" a new profile ({zero} at 0 W); from the plan: {stats_ms(from_plan)};"
            f" from the operator's command (waits for the next cycle):"
            f" {stats_ms(from_command)}; load average {loadavg()}"
        )

    def meter_values(self, interval_s: float) -> None:
        db = self.folder / "v2g.db"
        rows_before = _meter_rows(db)
        start = time.time() + 0.5
        results = self.everyone("meter", (start, self.args.meter_seconds, interval_s))
        latencies = [x for r in results for x in r["latencies"]]
        elapsed = max(r["elapsed_s"] for r in results)
        answered_at = time.time()
        rows = _meter_rows(db)
        while True:  # the store writes behind the answers: until it has caught up
            time.sleep(0.5)
            now_rows = _meter_rows(db)
            if now_rows == rows:
                break
            rows = now_rows
        stored_s = time.time() - start
        how = f"each station every {interval_s:g} s" if interval_s else "back to back"
        print(
            f"5. meter values ({how}): {len(latencies) / elapsed:,.0f} TransactionEvents"
            " answered/s"
            f" over {elapsed:.1f} s; latency {stats_ms(latencies)}; store: "
            f"{rows - rows_before:,} meter_values rows in {stored_s:.1f} s "
            f"({(rows - rows_before) / stored_s:,.0f}/s; caught up "
            f"{max(0.0, time.time() - answered_at - 0.5):.1f} s after the last answer);"
            f" load average {loadavg()}"
        )

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self.everyone("stop")
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
        self.service.stop()
        log = (self.folder / "serve.log").read_text().splitlines()
        errors = [line for line in log if " ERROR " in line]
        print(
            f"v2g serve log: {len(errors)} ERROR lines"
            + (f"; first: {errors[0][:300]}" if errors else "")
        )


def run(args: argparse.Namespace) -> None:
    bench = Bench(args)
    try:
        bench.storm()
        bench.first_profiles()
        bench.plan_to_profile()
        bench.meter_values(args.meter_interval_s)
        bench.meter_values(0.0)
    finally:
        bench.close()


def _epoch(wire: str) -> float:
    return datetime.fromisoformat(wire.replace("Z", "+00:00")).timestamp()


def _prices(points: list[list[Any]]) -> dict[str, Any]:
    return {"command": "set_prices", "prices": points}


def _meter_rows(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM meter_values").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--meter-seconds", type=float, default=10.0)
    parser.add_argument("--network", default="mv-oberrhein")
    parser.add_argument("--settle-s", type=float, default=12.0)
    parser.add_argument("--meter-interval-s", type=float, default=2.0)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
