"""What reaches the log: one line per record, whatever the input carried."""

from __future__ import annotations

import logging

import pytest

from v2g.log_setup import configure_logging, escape_unprintable


@pytest.fixture
def root_logging():
    """configure_logging changes the root logger: put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_an_id_with_a_newline_cannot_forge_a_log_line(root_logging, capsys):
    configure_logging("INFO")
    forged = "evt-1\n2026-07-01 00:00:00 INFO v2g: operator approved\r\x00\u202e"
    logging.getLogger("v2g.test").warning("DR event %s refused", forged)
    try:
        raise ValueError("with a traceback")
    except ValueError:
        logging.getLogger("v2g.test").exception("and %s", "its lines")
    lines = capsys.readouterr().err.splitlines()
    assert "DR event evt-1\\n2026-07-01" in lines[0] and "\\r\\x00\\u202e refused" in lines[0]
    assert lines[1].endswith("and its lines") and lines[2].startswith("Traceback")


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        ("plain id é ✓", "plain id é ✓"),
        ("tab\tkept", "tab\tkept"),
        ("nul\x00", "nul\\x00"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("zwj\u200d", "zwj\\u200d"),
        ("lone\ud800", "lone\\ud800"),
    ],
)
def test_unprintable_characters_are_escaped_and_the_rest_kept(text, logged):
    assert escape_unprintable(text) == logged
