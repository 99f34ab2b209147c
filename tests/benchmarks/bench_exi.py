"""Benchmark: the native EXI codec against the Java one, through the ``IEXICodec`` seam.

    .venv/bin/python -m tests.benchmarks.bench_exi [--native-runs 5000] [--java-runs 300]

Encodes (JSON text -> EXI bytes) and decodes (EXI bytes -> JSON text) the charge-loop
messages of DIN SPEC 70121, ISO 15118-2 and ISO 15118-20 DC, taken from the captured
session corpus (tests/data/exi_corpus.json), with both codecs in one run, and prints
per message and direction the median and p99 in microseconds and the ratio of the
medians. Goal: native at least 500 times faster than Java, p99 under 1 ms.

The machine is shared and noisy: read medians and ratios, not single numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from iso15118.shared.iexi_codec import IEXICodec

from v2g.secc.codec import make_codec

CORPUS = Path(__file__).resolve().parent.parent / "data" / "exi_corpus.json"
MESSAGES = [
    ("din", "urn:din:70121:2012:MsgDef", "CurrentDemandReq"),
    ("din", "urn:din:70121:2012:MsgDef", "CurrentDemandRes"),
    ("iso2", "urn:iso:15118:2:2013:MsgDef", "CurrentDemandReq"),
    ("iso2", "urn:iso:15118:2:2013:MsgDef", "CurrentDemandRes"),
    ("iso20", "urn:iso:std:iso:15118:-20:DC", "DC_ChargeLoopReq"),
    ("iso20", "urn:iso:std:iso:15118:-20:DC", "DC_ChargeLoopRes"),
]


def _name(document: dict[str, object]) -> str:
    root = next(iter(document))
    if root == "V2G_Message":
        body = document[root]["Body"]  # type: ignore[index]
        return str(next(iter(body)))
    return root


def samples() -> list[tuple[str, str, str, str, bytes]]:
    """(family, namespace, message name, JSON text, EXI bytes) per benchmarked message."""
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))["messages"]
    chosen = []
    for family, namespace, name in MESSAGES:
        found = [m for m in corpus if m["ns"] == namespace and _name(m["json"]) == name]
        if not found:
            raise SystemExit(f"{name} ({namespace}) is not in the corpus")
        message = max(found, key=lambda m: len(m["hex"]))  # the fullest variant
        chosen.append(
            (family, namespace, name, json.dumps(message["json"]), bytes.fromhex(message["hex"]))
        )
    return chosen


def timings_us(call: Callable[[], object], runs: int) -> list[float]:
    for _ in range(min(50, runs)):  # warm caches (and the JVM's JIT)
        call()
    spent = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        call()
        spent.append((time.perf_counter_ns() - started) / 1000.0)
    return spent


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def measure(codec: IEXICodec, runs: int) -> dict[tuple[str, str], list[float]]:
    results = {}
    for family, namespace, name, text, stream in samples():
        if bytes(codec.encode(text, namespace)) != stream:
            raise SystemExit(f"{name}: the codec does not reproduce the corpus bytes")
        results[(f"{family} {name}", "encode")] = timings_us(
            lambda t=text, n=namespace: codec.encode(t, n), runs
        )
        results[(f"{family} {name}", "decode")] = timings_us(
            lambda s=stream, n=namespace: codec.decode(s, n), runs
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--native-runs", type=int, default=5000)
    parser.add_argument("--java-runs", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    native = measure(make_codec("native"), args.native_runs)
    java = measure(make_codec("java"), args.java_runs)
    print(
        f"{'message':24} {'op':6} {'native p50 us':>13} {'native p99 us':>13} "
        f"{'java p50 us':>12} {'java p99 us':>12} {'p50 ratio':>10}"
    )
    rows = []
    for key, native_us in native.items():
        java_us = java[key]
        row = {
            "message": key[0],
            "op": key[1],
            "native_p50_us": round(statistics.median(native_us), 1),
            "native_p99_us": round(p99(native_us), 1),
            "java_p50_us": round(statistics.median(java_us), 1),
            "java_p99_us": round(p99(java_us), 1),
        }
        row["ratio"] = round(row["java_p50_us"] / row["native_p50_us"], 1)
        rows.append(row)
        print(
            f"{row['message']:24} {row['op']:6} {row['native_p50_us']:>13.1f} "
            f"{row['native_p99_us']:>13.1f} {row['java_p50_us']:>12.1f} "
            f"{row['java_p99_us']:>12.1f} {row['ratio']:>9.0f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
