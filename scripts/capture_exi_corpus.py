"""Capture every EXI message of full loopback sessions into the codec's test corpus.

Runs ``v2g loopback --codec java`` (root, JDK) for every protocol, and for the four
-2/-20 protocols with scheduled control as well, with the charger's codec wrapped in
``CapturingCodec`` (environment variable ``V2G_EXI_CAPTURE``). Every message the Java
codec encoded or decoded is kept once, with its namespace, EXI bytes and JSON, in
``tests/data/exi_corpus.json``:

    .venv/bin/python scripts/capture_exi_corpus.py [OUTPUT]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = [
    ("din-dc", "dynamic"),
    ("iso2-ac", "dynamic"),
    ("iso2-dc", "dynamic"),
    ("iso20-ac", "dynamic"),
    ("iso20-dc", "dynamic"),
    ("iso20-ac-bpt", "dynamic"),
    ("iso20-dc-bpt", "dynamic"),
    ("iso2-ac", "scheduled"),
    ("iso2-dc", "scheduled"),
    ("iso20-ac", "scheduled"),
    ("iso20-dc", "scheduled"),
]
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "exi_corpus.json"


def capture(protocol: str, control: str, folder: Path) -> list[dict[str, str]]:
    path = folder / f"{protocol}-{control}.jsonl"
    command = [sys.executable, "-m", "v2g", "loopback", "--protocol", protocol]
    command += ["--control", control, "--codec", "java", "--charge-loops", "3"]
    command += ["--ev-timeout-scale", "10", "--json"]
    env = dict(os.environ, V2G_EXI_CAPTURE=str(path))
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{protocol} {control}: loopback failed: {result.stderr[-2000:]}")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [dict(json.loads(line), session=f"{protocol}/{control}") for line in lines]


def _one_message_per_line(document: dict[str, object]) -> str:
    messages = document["messages"]
    assert isinstance(messages, list)
    lines = ",\n  ".join(json.dumps(m, separators=(",", ":")) for m in messages)
    return f'{{"about": {json.dumps(document["about"])},\n "messages": [\n  {lines}\n]}}\n'


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    seen: set[tuple[str, str]] = set()
    messages = []
    with tempfile.TemporaryDirectory() as folder:
        for protocol, control in RUNS:
            for record in capture(protocol, control, Path(folder)):
                key = (record["ns"], record["hex"])
                if key in seen:
                    continue
                seen.add(key)
                messages.append(
                    {
                        "session": record["session"],
                        "direction": record["direction"],
                        "ns": record["ns"],
                        "hex": record["hex"],
                        "json": json.loads(record["json"]),
                    }
                )
    document = {
        "about": "Every distinct EXI message of full v2g loopback sessions (SECC and EV "
        "side), as the iso15118 package's Java codec (EXIficient) encoded or decoded it. "
        "Regenerate with scripts/capture_exi_corpus.py.",
        "messages": messages,
    }
    output.write_text(_one_message_per_line(document), encoding="utf-8")
    print(f"{len(messages)} messages -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
