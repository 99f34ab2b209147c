"""TLS handshake time of the SECC's contexts, per ISO 15118 profile and key algorithm.

    .venv/bin/python -m tests.benchmarks.bench_tls [--handshakes 50]

Full handshakes (no resumption) over a local socket pair, both ends in this process:
what the key algorithm and TLS version cost, without network or EXI.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from pki.profiles import Role
from pki.tls import evcc_context
from tests.pki.test_tls import folder, handshake, server_for

CASES = [
    ("iso2", "secp256r1", "TLS 1.2, unilateral"),
    ("iso20", "secp521r1", "TLS 1.3, mutual"),
    ("iso20", "ed448", "TLS 1.3, mutual"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handshakes", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    for profile, algorithm, label in CASES:
        store = folder(work, profile, algorithm)
        iso20 = profile == "iso20"
        server = server_for(store, tls12=not iso20, tls13=iso20)
        client = evcc_context(
            store.cert_path(Role.V2G_ROOT),
            tls13=iso20,
            chain_file=store.chain_path(Role.OEM_LEAF) if iso20 else None,
            key_file=store.key_path(Role.OEM_LEAF) if iso20 else None,
        )
        times = []
        for _ in range(args.handshakes):
            seen, elapsed = handshake(server, client)
            assert "error" not in seen and "client_error" not in seen, seen
            times.append(elapsed * 1000)
        print(
            f"{profile:5} {algorithm:9} {label:20} {seen['version']} {seen['cipher']:28} "
            f"median {statistics.median(times):6.2f} ms  max {max(times):6.2f} ms"
        )


if __name__ == "__main__":
    main()
