"""Reads never change the aggregator: whatever mix of inputs and reads arrives, the next
cycle plans from exactly what the inputs alone give (property test)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.properties import examples
from v2g.aggregator import Aggregator, AggregatorState, Input, RecordingLink, SetFleetCap
from v2g.demand_response import DemandResponseEvent
from v2g.dispatch import PlannerSettings
from v2g.session import PowerMeasured, SessionEnded, SessionEvent
from v2g.testing import FakeClock
from v2g.testing.fleet import v2g_pair
from v2g.testing.grid import CapacityGrid

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
SETTINGS = PlannerSettings(slot_s=3600, slots=4, setpoint_valid_s=600)
READ = "read"

inputs = st.one_of(
    st.builds(
        PowerMeasured,
        st.sampled_from(["evse-a", "evse-b", "evse-x"]),
        st.sampled_from(["session-a", "session-b"]),
        st.just(T0),
        st.floats(-11_000, 11_000),
        st.one_of(st.none(), st.floats(0, 100)),
    ),
    st.builds(
        SessionEnded,
        st.sampled_from(["evse-a", "evse-b"]),
        st.sampled_from(["session-a", "session-b"]),
        st.just(T0),
        st.just("unplugged"),
    ),
    st.builds(
        DemandResponseEvent,
        st.sampled_from(["evt-1", "evt-2"]),
        st.just(T0),
        st.just(T0 + timedelta(hours=1)),
        st.sampled_from(["export_w", "shed_w", "import_limit_w"]),
        st.floats(0, 30_000),
        st.integers(0, 3),
    ),
    st.builds(SetFleetCap, st.one_of(st.none(), st.floats(-20_000, 20_000))),
    st.just(READ),
)


def _aggregator() -> Aggregator:
    builder = v2g_pair(T0, stay_h=8)
    agg = Aggregator(builder.site, CapacityGrid(1e6), RecordingLink(), FakeClock(T0), SETTINGS)
    for event in builder.events:
        assert agg.submit(event).accepted
    return agg


def _feed(agg: Aggregator, items: list[Input | str]) -> None:
    folded = agg.state
    for item in items:
        if item == READ:
            assert agg.state is folded  # a read neither folds the queue nor copies
        else:
            assert not isinstance(item, str)
            agg.submit(item)
            if isinstance(item, SessionEvent):
                assert agg.state is folded  # queued for the cycle, not folded by reads
            folded = agg.state


def _planned_from(items: list[Input | str]) -> AggregatorState:
    async def run() -> AggregatorState:
        agg = _aggregator()
        try:
            _feed(agg, items)
            return (await agg.cycle()).state
        finally:
            agg.close()

    return asyncio.run(run())


@settings(max_examples=examples(30), deadline=None)
@given(st.lists(inputs, max_size=12))
def test_reads_interleaved_with_inputs_change_nothing_the_cycle_plans_from(items):
    with_reads = _planned_from(items)
    without_reads = _planned_from([i for i in items if i != READ])
    assert with_reads.fleet == without_reads.fleet
    assert with_reads.events == without_reads.events
    assert with_reads.operator_cap_w == without_reads.operator_cap_w
