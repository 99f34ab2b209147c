"""Benchmark: the controller's own share of a charge-loop answer (no codec, no network).

    .venv/bin/python -m tests.benchmarks.bench_controller [--rounds 2000]

Times one -20 DC_BPT dynamic charge-loop answer as iso15118 asks for it
(send_charging_command, then get_dc_charge_loop_params_v20 and the present values)
for the product's EvseController and, as the named baseline, the iso15118 package's
SimEVSEController with its session limits filled in. Reports medians in microseconds
over ``--rounds`` answers, repeated 5 times, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

from iso15118.secc.controller.simulator import SimEVSEController
from iso15118.shared.messages.enums import ControlMode, Protocol, ServiceV20

from tests.unit.secc_helpers import Rig, dc_bpt_evse
from v2g.session import Setpoint
from v2g.testing import FakeClock, FakeMonotonic


async def answer(controller) -> None:
    await controller.send_charging_command(None, None, True)
    await controller.get_dc_charge_loop_params_v20(ControlMode.DYNAMIC, ServiceV20.DC_BPT)
    await controller.get_evse_present_voltage(Protocol.ISO_15118_20_DC)
    await controller.get_evse_present_current(Protocol.ISO_15118_20_DC)


async def time_answers(controller, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        await answer(controller)
    return (time.perf_counter() - started) / rounds * 1e6


async def product_controller():
    clock = FakeClock(datetime(2026, 7, 1, 18, 0, tzinfo=UTC))
    rig = Rig(dc_bpt_evse(), clock, FakeMonotonic())
    await rig.start_dc_bpt_session()
    await rig.enter("PowerDelivery")
    rig.mailbox.post(Setpoint.from_source(-5000, clock.now() + timedelta(hours=1), "bench"))
    return rig.controller


async def main(rounds: int) -> None:
    ours = await product_controller()
    stock = SimEVSEController()
    results: dict[str, list[float]] = {"iso15118 SimEVSEController": [], "EvseController": []}
    for _ in range(5):
        results["iso15118 SimEVSEController"].append(await time_answers(stock, rounds))
        results["EvseController"].append(await time_answers(ours, rounds))
    medians = {name: statistics.median(values) for name, values in results.items()}
    baseline = medians["iso15118 SimEVSEController"]
    print(f"{'controller':28} {'median us/answer':>17} {'vs baseline':>12}")
    for name, median in medians.items():
        print(f"{name:28} {median:>17.1f} {median / baseline:>11.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    asyncio.run(main(parser.parse_args().rounds))
