"""The OpenADR signal mapping (pure): what each supported signal asks, and bad input
refused with a reason that names the problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from v2g.demand_response import InvalidEvent
from v2g.openadr.signals import (
    LevelRequest,
    SignalMapping,
    UnsupportedSignal,
    translate_oadr2,
)

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)


def oadr2_event(
    name: str = "LOAD_DISPATCH",
    kind: str = "setpoint",
    payloads: tuple[float, ...] = (-20.0,),
    start: datetime = T0,
    minutes: float = 30,
    status: str = "far",
    revision: int = 0,
) -> dict[str, Any]:
    """An event as openleadr hands it to the VEN's on_event handler."""
    step = timedelta(minutes=minutes)
    return {
        "event_descriptor": {
            "event_id": "evt-1",
            "modification_number": revision,
            "event_status": status,
        },
        "active_period": {"dtstart": start, "duration": step * len(payloads)},
        "event_signals": [
            {
                "signal_name": name,
                "signal_type": kind,
                "intervals": [
                    {"dtstart": start + k * step, "duration": step, "uid": k, "signal_payload": p}
                    for k, p in enumerate(payloads)
                ],
            }
        ],
        "response_required": "always",
    }


def test_a_negative_load_dispatch_setpoint_asks_for_export():
    [event] = translate_oadr2(oadr2_event(), SignalMapping()).events
    assert (event.id, event.kind, event.value_w) == ("evt-1", "export_w", 20_000)
    assert (event.start, event.end) == (T0, T0 + timedelta(minutes=30))


def test_a_positive_setpoint_caps_import_and_a_negative_delta_sheds():
    [cap] = translate_oadr2(oadr2_event(payloads=(5.0,)), SignalMapping()).events
    assert (cap.kind, cap.value_w) == ("import_limit_w", 5_000)
    [shed] = translate_oadr2(oadr2_event(kind="delta", payloads=(-3.0,)), SignalMapping()).events
    assert (shed.kind, shed.value_w) == ("shed_w", 3_000)


def test_simple_levels_follow_the_configured_table_and_level_0_asks_nothing():
    mapping = SignalMapping(levels={1: LevelRequest("shed_w", 7_000)})
    events = translate_oadr2(oadr2_event("SIMPLE", "level", payloads=(0, 1, 2)), mapping).events
    assert [(e.id, e.kind, e.value_w) for e in events] == [("evt-1#1", "shed_w", 7_000)]


def test_prices_become_price_points_per_interval():
    translation = translate_oadr2(
        oadr2_event("ELECTRICITY_PRICE", "price", payloads=(0.2, 0.4)), SignalMapping()
    )
    assert translation.prices == ((T0, 0.2), (T0 + timedelta(minutes=30), 0.4))
    assert translation.events == ()


def test_a_cancelled_event_translates_to_a_cancellation():
    assert translate_oadr2(oadr2_event(status="cancelled", revision=2), SignalMapping()).cancelled


@pytest.mark.parametrize(
    ("event", "error", "reason"),
    [
        (oadr2_event(minutes=-30), InvalidEvent, "duration"),
        (oadr2_event(minutes=0), InvalidEvent, "duration"),
        (oadr2_event(start=datetime(2026, 7, 1, 18)), InvalidEvent, "timezone-aware"),  # noqa: DTZ001
        (oadr2_event("BID_LOAD"), UnsupportedSignal, "not in the signal mapping"),
        (oadr2_event(kind="multiplier"), UnsupportedSignal, "not in the signal mapping"),
        (oadr2_event(payloads=(-5e9,)), InvalidEvent, "value"),
        (oadr2_event(payloads=(float("nan"),)), UnsupportedSignal, "finite"),
        (oadr2_event(kind="delta", payloads=(4.0,)), UnsupportedSignal, "more load"),
        (oadr2_event("SIMPLE", "level", payloads=(7,)), UnsupportedSignal, "levels are"),
    ],
    ids=[
        "end-before-start",
        "zero-duration",
        "naive-time",
        "unknown-signal",
        "unknown-signal-type",
        "absurd-value",
        "not-a-number",
        "more-load",
        "level-out-of-range",
    ],
)
def test_bad_input_is_refused_with_a_clear_reason(event, error, reason):
    with pytest.raises(error, match=reason):
        translate_oadr2(event, SignalMapping())
