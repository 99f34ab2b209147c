"""SLAC started and stopped by the control pilot (ISO 15118-3, 7.3.1): plug-in starts
matching, a failed attempt is retried while the vehicle stays, unplug or a pilot error
stops it, and the next plug-in starts afresh. The link is a fake that records what the
pilot made it do; the pilot is the simulated one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from v2g.hardware.seams import PilotState
from v2g.hardware.simulated import SimulatedPilot
from v2g.slac.link import SlacFailed, slac_by_pilot
from v2g.slac.machine import SlacMatch

MATCH = SlacMatch(b"\x02" * 6, b"\x04" * 6, b"\x01" * 8, b"\x05" * 7, b"\x06" * 16, 20.0)


class FakeLink:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self._outcome: asyncio.Future[SlacMatch] | None = None

    def start(self) -> None:
        self.calls.append("start")
        self._outcome = asyncio.get_running_loop().create_future()

    async def matched(self) -> SlacMatch:
        assert self._outcome is not None
        return await asyncio.shield(self._outcome)

    async def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")

    def answer(self, outcome: SlacMatch | Exception) -> None:
        assert self._outcome is not None and not self._outcome.done()
        if isinstance(outcome, Exception):
            self._outcome.set_exception(outcome)
        else:
            self._outcome.set_result(outcome)


class Running:
    def __init__(self, start: PilotState) -> None:
        self.link = FakeLink()
        self.pilot = SimulatedPilot(start)
        self.matches: list[SlacMatch] = []

    async def until(self, calls: list[str]) -> None:
        """Wait (at most 2 s) until the link has seen exactly ``calls``."""
        async with asyncio.timeout(2):
            while self.link.calls != calls:
                await asyncio.sleep(0.001)


@pytest.fixture
async def running(request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    setup = Running(getattr(request, "param", PilotState.A))
    task = asyncio.create_task(
        slac_by_pilot(
            setup.link,
            setup.pilot,
            retry_after_s=0.01,
            poll_s=0.001,
            on_match=setup.matches.append,
        )
    )
    yield setup
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert setup.link.calls[-1] == "close"


async def test_no_vehicle_no_matching_then_plug_in_match_and_unplug_stops(running):
    await asyncio.sleep(0.02)
    assert running.link.calls == []

    running.pilot.set_state(PilotState.B)
    await running.until(["start"])
    running.link.answer(MATCH)
    running.pilot.set_state(PilotState.C)  # charging: the match holds
    await asyncio.sleep(0.02)
    assert running.matches == [MATCH] and running.link.calls == ["start"]

    running.pilot.set_state(PilotState.A)
    await running.until(["start", "stop"])


async def test_a_failed_attempt_is_retried_while_the_vehicle_stays(running):
    running.pilot.set_state(PilotState.B)
    await running.until(["start"])
    running.link.answer(SlacFailed("TT_match_sequence expired"))
    await running.until(["start", "stop", "start"])
    running.link.answer(MATCH)
    await asyncio.sleep(0.01)
    assert running.matches == [MATCH]


async def test_unplug_while_matching_stops_and_the_next_plug_in_starts_afresh(running):
    running.pilot.set_state(PilotState.B)
    await running.until(["start"])
    running.pilot.set_state(PilotState.A)
    await running.until(["start", "stop"])

    running.pilot.set_state(PilotState.B)
    await running.until(["start", "stop", "start"])
    assert running.matches == []


@pytest.mark.parametrize("running", [PilotState.C], indirect=True)
async def test_a_vehicle_already_plugged_in_at_start_up_is_matched_at_once(running):
    await running.until(["start"])


async def test_a_pilot_error_stops_matching(running):
    running.pilot.set_state(PilotState.B)
    await running.until(["start"])
    running.link.answer(MATCH)
    running.pilot.set_state(PilotState.E)
    await running.until(["start", "stop"])
