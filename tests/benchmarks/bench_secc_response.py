"""Benchmark: the SECC's response time per request in real loopback sessions.

    .venv/bin/python -m tests.benchmarks.bench_secc_response [--sessions 5]   (as root)

Runs ``--sessions`` complete sessions per protocol (din-dc and iso20-dc-bpt) between
the product's SECC and the iso15118 EVCC, with the standards' EV timeouts, and
reports the SECC's response time (decode of the request to the end of encoding the
answer) pooled over all requests, the per-session medians, and the whole session
time. Baseline: the iso15118 package's default EXI codec (Java, EXIficient over py4j).
Each codec in ``--codecs`` that can run here is measured in the same run and
compared with that baseline and with the response budgets: 25 ms for DIN SPEC 70121
and ISO 15118-2 (CurrentDemand), 250 ms for the ISO 15118-20 charge loop.

The machine is shared and noisy: read medians and ratios, not single numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from v2g.secc.codec import CodecUnavailable, make_codec
from v2g.secc.loopback import CHARGE_LOOP_REQUESTS
from v2g.secc.loopback.report import latency_summary
from v2g.secc.loopback.run import run_loopback
from v2g.secc.loopback.spec import LoopbackSpec

BUDGET_MS = {"din-dc": 25.0, "iso20-dc-bpt": 250.0}
BASELINE = "java"


def measure(protocol: str, codec: str, sessions: int) -> dict[str, object]:
    all_ms: list[float] = []
    loop_ms: list[float] = []
    session_s: list[float] = []
    p50s: list[float] = []
    completed = 0
    for index in range(sessions):
        work = Path(tempfile.mkdtemp(prefix=f"bench-{protocol}-{codec}-{index}-"))
        spec = LoopbackSpec(
            protocol=protocol,
            codec=codec,
            setpoint_w=-5000.0 if protocol.endswith("bpt") else 7000.0,
        )
        report = run_loopback(spec, work)
        completed += report.completed
        exchanges = json.loads((work / "charger.json").read_text()).get("exchanges", [])
        times = [e["response_ms"] for e in exchanges]
        all_ms += times
        loop_ms += [e["response_ms"] for e in exchanges if e["request"] in CHARGE_LOOP_REQUESTS]
        if times:
            p50s.append(statistics.median(times))
        session_s.append(report.session_s)
        print(
            f"  {protocol} {codec} session {index + 1}: completed={report.completed} "
            f"requests={report.requests} p50={report.secc_response_ms['p50']} ms "
            f"max={report.secc_response_ms['max']} ms session={report.session_s} s",
            file=sys.stderr,
        )
    return {
        "protocol": protocol,
        "codec": codec,
        "sessions": sessions,
        "completed": completed,
        "requests": len(all_ms),
        "all_ms": latency_summary(all_ms),
        "charge_loop_ms": latency_summary(loop_ms),
        "median_session_p50_ms": round(statistics.median(p50s), 3) if p50s else None,
        "median_session_s": round(statistics.median(session_s), 3),
        "over_budget_percent": round(
            100.0 * sum(t > BUDGET_MS[protocol] for t in all_ms) / max(1, len(all_ms)), 1
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--codecs", default="java,native")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    for codec in args.codecs.split(","):
        try:
            make_codec(codec) if codec != BASELINE else None
        except CodecUnavailable as error:
            print(f"codec {codec}: skipped ({error})", file=sys.stderr)
            continue
        for protocol in BUDGET_MS:
            results.append(measure(protocol, codec, args.sessions))
    baseline = {r["protocol"]: r for r in results if r["codec"] == BASELINE}
    print(
        f"{'protocol':14} {'codec':7} {'done':>5} {'reqs':>5} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'loop p99':>9} {'session s':>10} {'p99/budget':>11} {'p50 vs java':>12}"
    )
    for r in results:
        all_ms, loop = r["all_ms"], r["charge_loop_ms"]
        base = baseline.get(r["protocol"])
        ratio = (
            f"{base['all_ms']['p50'] / all_ms['p50']:.1f}x faster"
            if base and all_ms["p50"]
            else "-"
        )
        print(
            f"{r['protocol']:14} {r['codec']:7} {r['completed']:>2}/{r['sessions']:<2} "
            f"{r['requests']:>5} {all_ms['p50']:>8.1f} {all_ms['p99']:>8.1f} "
            f"{all_ms['max']:>8.1f} {loop['p99']:>9.1f} {r['median_session_s']:>10.2f} "
            f"{all_ms['p99'] / BUDGET_MS[r['protocol']]:>10.1f}x {ratio:>12}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
