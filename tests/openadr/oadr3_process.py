"""An aggregator with 1,000 V2G cars following an OpenADR 3 VTN, on a SQLite store,
for the restart test:

    python -m tests.openadr.oadr3_process DB VTN_BASE_URL

Start-up as a service must do it: events back from the store, the lifecycle
reconciled, the OpenADR 3 client caught up with the VTN (deletions made while we were
down, events we hold), and only then the first plan. Prints one JSON line per fact:
``caught_up``, ``cycle`` (plan sources and power), ``outcomes``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp

from tests.openadr.restart_service import restored, say
from tests.openadr.vtn3 import CLIENT_ID, CLIENT_SECRET
from v2g.openadr.oadr3_client import CHANNEL, Oadr3Client, Oadr3Config
from v2g.store.channels import event_ids_from


async def main(db: Path, base_url: str) -> None:
    service = await restored(db)
    aggregator, intake, clock = service.aggregator, service.intake, service.clock
    config = Oadr3Config(base_url, CLIENT_ID, CLIENT_SECRET, poll_interval_s=0.5)
    async with aiohttp.ClientSession() as session:
        client = Oadr3Client(config, intake, clock, session)
        ok = await client.catch_up(await event_ids_from(service.engine, CHANNEL))
        say(
            caught_up=ok,
            held=sorted(aggregator.state.events.events),
            cancelled=sorted(aggregator.state.events.cancelled),
            first_plan_made=aggregator.latest() is not None,
            answers=client.answers,
            error=client.health.last_error,
        )
        stop = asyncio.Event()
        following = asyncio.create_task(client.run(stop))
        await aggregator.run(1.0, stop)
        await following


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
