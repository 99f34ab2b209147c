"""Start-up decisions against event windows (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from v2g.demand_response import DemandResponseEvent, EventBook
from v2g.demand_response.reconcile import reconcile

T0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
H = timedelta(hours=1)


def book(*events: DemandResponseEvent) -> EventBook:
    result = EventBook()
    for event in events:
        result, _ = result.accept(event)
    return result


def test_an_active_event_resumes_and_only_its_end_is_scheduled():
    active = DemandResponseEvent("a", T0 - H, T0 + H, "export_w", 1_000)
    decision = reconcile(book(active), {"dr:a:0:start"}, T0)
    assert decision.resumed == ("a",)
    assert decision.handle == ()
    assert [b.key for b in decision.schedule] == ["dr:a:0:end"]


def test_a_start_missed_during_a_downtime_is_handled_once():
    active = DemandResponseEvent("a", T0 - H, T0 + H, "export_w", 1_000)
    first = reconcile(book(active), set(), T0)
    assert [b.key for b in first.handle] == ["dr:a:0:start"]
    again = reconcile(book(active), {"dr:a:0:start"}, T0 + timedelta(minutes=1))
    assert again.handle == ()


def test_an_event_that_ended_while_down_is_closed_but_never_started():
    over = DemandResponseEvent("o", T0 - 2 * H, T0 - H, "shed_w", 1_000)
    decision = reconcile(book(over), set(), T0)
    assert decision.finished == ("o",)
    assert [b.key for b in decision.skip] == ["dr:o:0:start"]
    assert [b.key for b in decision.handle] == ["dr:o:0:end"]
    assert decision.schedule == ()


def test_a_future_event_is_scheduled_and_a_cancelled_one_is_forgotten():
    future = DemandResponseEvent("f", T0 + H, T0 + 2 * H, "import_limit_w", 0)
    gone = DemandResponseEvent("g", T0 - H, T0 + H, "export_w", 1_000)
    events, _ = book(future, gone).cancel("g")
    decision = reconcile(events, set(), T0)
    assert [b.key for b in decision.schedule] == ["dr:f:0:start", "dr:f:0:end"]
    assert decision.resumed == () and decision.handle == ()


def test_a_new_revision_has_boundaries_of_its_own():
    revised = DemandResponseEvent("a", T0 - H, T0 + H, "export_w", 2_000, 3)
    decision = reconcile(book(revised), {"dr:a:0:start"}, T0)
    assert [b.key for b in decision.handle] == ["dr:a:3:start"]
