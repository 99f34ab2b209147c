"""Prints the conformance sweep as a Markdown table (issue 20's closing note).

``python -m tests.conformance.table [--responses]``: one row per message, one column
per kind of instance (minimal, outer, maximal; several variants each), each cell what
the SECC's decode-and-validate path did: ``accepted``, answered with a response code,
or ``UNANSWERED`` (the session would end without an answer). A ``!`` marks an
instance whose model, written back, is not the instance (a dropped or renamed element).
``-``: no instance of that kind beyond those already listed (no optional element at
that level). ``--responses``: the same for SECC-to-EV messages, as the models read them.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from tests.conformance.sweep import ACCEPTED, ANSWERED, Outcome, sweep

KINDS = ("minimal", "outer", "maximal")
_SHORT_NAMESPACE = {
    "urn:din:70121:2012:MsgDef": "DIN",
    "urn:iso:15118:2:2013:MsgDef": "-2",
    "urn:iso:std:iso:15118:-20:CommonMessages": "-20",
    "urn:iso:std:iso:15118:-20:AC": "-20 AC",
    "urn:iso:std:iso:15118:-20:DC": "-20 DC",
    "urn:iso:std:iso:15118:-20:WPT": "-20 WPT",
    "urn:iso:std:iso:15118:-20:ACDP": "-20 ACDP",
}


def cell(outcomes: list[Outcome], responses: bool = False) -> str:
    """One table cell: counts of what happened to the instances of one kind. For
    responses (which the SECC writes, not reads) the words say what iso15118's models
    make of them: ``read`` (and written back), ``refused`` or ``no model``."""
    if not outcomes:
        return "-"
    counts: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.verdict == ACCEPTED:
            label = ("read" if responses else "accepted") + (" !" if outcome.round_trip else "")
        elif outcome.verdict == ANSWERED and not outcome.detail.startswith("FAILED_Sequence"):
            label = "refused" if responses else outcome.detail.split(":")[0]
        elif outcome.verdict == ANSWERED:
            label = outcome.detail.split(":")[0]
        else:
            label = "no model" if responses else "UNANSWERED"
        counts[label] += 1
    return ", ".join(f"{label} {n}/{len(outcomes)}" for label, n in counts.items())


def render(direction: str) -> str:
    rows: dict[tuple[str, str], dict[str, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
    for outcome in sweep(direction):
        instance = outcome.instance
        rows[(_SHORT_NAMESPACE[instance.namespace], instance.message)][instance.kind].append(
            outcome
        )
    lines = [
        "| schema | message | " + " | ".join(KINDS) + " |",
        "|---|---|" + "---|" * len(KINDS),
    ]
    for (namespace, message), kinds in rows.items():
        cells = " | ".join(cell(kinds.get(kind, []), direction == "Res") for kind in KINDS)
        lines.append(f"| {namespace} | {message} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--responses", action="store_true", help="SECC-to-EV messages instead of requests"
    )
    arguments = parser.parse_args()
    print(render("Res" if arguments.responses else "Req"))


if __name__ == "__main__":
    main()
