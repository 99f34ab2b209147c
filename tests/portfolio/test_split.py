"""The coordinator's splits: an export target over the feeders' offers (one LP), an
import limit over their needs and plans, a shed over the import they can let go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.portfolio.split import (
    PublishedEnvelope,
    split_export,
    split_import_limit,
    split_shed,
)

NOW = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


def test_a_target_within_the_offers_is_met_in_proportion_to_them():
    split = split_export(30_000, {"a": 20_000, "b": 10_000, "c": 30_000})
    assert split.placed_w == pytest.approx(30_000)
    assert split.shares_w == pytest.approx({"a": 10_000, "b": 5_000, "c": 15_000})


def test_a_target_beyond_the_offers_takes_every_offer_in_full():
    split = split_export(100_000, {"a": 20_000, "b": 10_000})
    assert split.shares_w == pytest.approx({"a": 20_000, "b": 10_000})


def test_a_shared_mv_transformer_caps_the_sum():
    split = split_export(100_000, {"a": 20_000, "b": 10_000, "c": 30_000}, mv_export_cap_w=40_000)
    assert split.placed_w == pytest.approx(40_000)
    assert all(split.shares_w[f] <= offer + 1e-6 for f, offer in split.offers_w.items())


def test_no_offers_or_no_target_places_nothing():
    assert split_export(50_000, {"a": 0.0, "b": 0.0}).placed_w == 0
    assert split_export(0, {"a": 5_000}).placed_w == 0
    assert split_export(50_000, {}).shares_w == {}


@given(
    st.floats(0, 1e6),
    st.dictionaries(st.sampled_from("abcdefgh"), st.floats(0, 2e5), min_size=1),
    st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_the_split_places_the_most_it_can_within_every_offer(target, offers, cap):
    split = split_export(target, offers, cap)
    best = min(target, sum(offers.values()), float("inf") if cap is None else cap)
    assert split.placed_w == pytest.approx(best, rel=1e-6, abs=1e-3)
    for feeder, share in split.shares_w.items():
        assert -1e-6 <= share <= offers[feeder] + 1e-3


def test_an_envelope_offers_its_least_discharge_over_the_event_and_nothing_past_its_end():
    bounds = tuple(NOW + timedelta(minutes=15 * i) for i in range(5))
    envelope = PublishedEnvelope(bounds, (-9_000, -5_000, -7_000, 2_000), (11_000,) * 4)
    assert envelope.export_offer_w(NOW, NOW + timedelta(minutes=45)) == 5_000
    assert envelope.export_offer_w(bounds[3], bounds[4]) == 0  # charging only: no offer
    assert envelope.export_offer_w(NOW, NOW + timedelta(hours=2)) == 0  # beyond the horizon


def test_an_import_limit_gives_each_feeder_its_need_first_and_the_rest_as_planned():
    split = split_import_limit(50_000.0, {"a": 10_000.0, "b": 0.0}, {"a": 30_000.0, "b": 40_000.0})
    # 10 kW need to "a"; 40 kW left in proportion to 20 and 40 kW wanted beyond needs.
    assert split.shares_w == pytest.approx({"a": 10_000 + 40_000 / 3, "b": 80_000 / 3})
    assert split.placed_w == pytest.approx(50_000.0)


def test_an_import_limit_below_the_feeders_needs_cuts_each_need_alike():
    split = split_import_limit(10_000.0, {"a": 10_000.0, "b": 30_000.0}, {})
    assert split.shares_w == pytest.approx({"a": 2_500.0, "b": 7_500.0})


def test_a_shed_is_shared_by_the_import_each_feeder_can_let_go_and_never_more():
    assert split_shed(12_000.0, {"a": 10_000.0, "b": 20_000.0, "c": -5.0}).shares_w == (
        pytest.approx({"a": 4_000.0, "b": 8_000.0, "c": 0.0})
    )
    assert split_shed(90_000.0, {"a": 10_000.0, "b": 20_000.0}).placed_w == pytest.approx(30_000.0)


def test_an_envelope_needs_the_most_import_its_lower_end_asks_over_the_window():
    envelope = PublishedEnvelope(
        (NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=2)), (4_000.0, -2_000.0), (9e3, 9e3)
    )
    assert envelope.import_need_w(NOW, NOW + timedelta(hours=2)) == 4_000.0
    assert envelope.import_need_w(NOW + timedelta(hours=1), NOW + timedelta(hours=2)) == 0.0
    assert envelope.import_need_w(NOW + timedelta(hours=3), NOW + timedelta(hours=4)) == 0.0
