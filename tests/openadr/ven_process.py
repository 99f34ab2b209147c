"""An aggregator with 1,000 V2G cars behind an OpenADR 2.0b VEN, on a SQLite store,
for the restart test:

    python -m tests.openadr.ven_process DB VTN_URL

Start-up as a service must do it: events back from the store, the lifecycle
reconciled, the VEN registered and its events synced (openleadr asks the VTN for
them at once), and only then the control cycle. Prints one JSON line per fact:
``decision`` (answer, reason, whether a plan existed yet) and ``cycle``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.openadr.restart_service import restored, say
from v2g.aggregator import Aggregator
from v2g.openadr.ven import Oadr2Ven, VenConfig


class TellingVen(Oadr2Ven):
    """The product's VEN, saying each answer and whether a plan existed yet."""

    aggregator: Aggregator

    async def handle_event(self, event: Mapping[str, Any]) -> str:
        answer = await super().handle_event(event)
        event_id = str(event.get("event_descriptor", {}).get("event_id"))
        say(
            decision=event_id,
            answer=answer,
            reason=self.decisions[event_id].reason,
            first_plan_made=self.aggregator.latest() is not None,
        )
        return answer


async def main(db: Path, vtn_url: str) -> None:
    service = await restored(db)
    aggregator, intake = service.aggregator, service.intake
    config = VenConfig(vtn_url, "v2g-fleet", poll_interval_s=1, report_sampling_s=5)
    ven = TellingVen(config, intake)
    ven.aggregator = aggregator
    await ven.start()  # registers and syncs the VTN's events before the first plan
    say(ven=ven.status)
    await aggregator.run(1.0, asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
