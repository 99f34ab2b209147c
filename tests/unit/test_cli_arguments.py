"""The option types: a value the run could not use is refused at parse time, every
value they accept is one the run can use."""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from v2g.cli_arguments import (
    bounded_float,
    bounded_int,
    finite_float,
    log_level,
    port_number,
    writable_folder,
)

TEXT = st.one_of(
    st.floats().map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "infinity", "1e999", "", " ", "0x10", "1_000"]),
    st.text(max_size=8),
)


@given(TEXT)
def test_finite_float_returns_a_finite_number_or_refuses(text):
    try:
        value = finite_float(text)
    except argparse.ArgumentTypeError as refused:
        assert str(refused)
        return
    assert math.isfinite(value)


@given(TEXT, st.integers(-100, 100), st.integers(0, 1000))
def test_bounded_int_returns_a_whole_number_in_range_or_refuses(text, low, span):
    parse = bounded_int(low, low + span)
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as refused:
        assert str(refused)
        return
    assert isinstance(value, int) and low <= value <= low + span


@given(TEXT, st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_bounded_float_returns_a_finite_number_in_range_or_refuses(text, low, span):
    parse = bounded_float(low, low + span)
    try:
        value = parse(text)
    except argparse.ArgumentTypeError:
        return
    assert math.isfinite(value) and low <= value <= low + span


@pytest.mark.parametrize("text", ["0", "-1", "65536", "70000", "80.5", "http", ""])
def test_a_port_outside_1_to_65535_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        port_number(text)


@pytest.mark.parametrize("text", ["1", "8080", "65535"])
def test_a_port_within_1_to_65535_is_taken(text):
    assert port_number(text) == int(text)


@pytest.mark.parametrize(("text", "level"), [("debug", "DEBUG"), ("Warning", "WARNING")])
def test_log_levels_are_taken_in_any_case(text, level):
    assert log_level(text) == level


@pytest.mark.parametrize("text", ["LOUD", "", "5", "TRACE"])
def test_an_unknown_log_level_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="DEBUG, INFO"):
        log_level(text)


def test_a_report_folder_is_writable_new_or_existing_and_a_file_is_not(tmp_path):
    assert writable_folder(tmp_path / "new" / "deeper") is None
    assert (tmp_path / "new" / "deeper").is_dir()
    assert writable_folder(tmp_path) is None
    plain = tmp_path / "plain"
    plain.write_text("kept\n")
    assert "not a folder" in (writable_folder(plain) or "")
    assert "not a folder" in (writable_folder(plain / "below") or "")
    assert plain.read_text() == "kept\n"
