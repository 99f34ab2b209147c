"""Option types of the ``v2g`` command: each refuses a bad value at parse time, so
argparse exits 2 with a one-line reason before anything runs (README: exit status).

Each is a function from the option's text to its value that raises
``argparse.ArgumentTypeError`` with the reason.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

#: The levels ``--log-level`` takes (any case).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def finite_float(text: str) -> float:
    """A real number: NaN and infinities are refused (a NaN setpoint or speed would
    pass every comparison and reach the power stage)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """A finite number within ``low..high`` (inclusive)."""

    def parse(text: str) -> float:
        value = finite_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must lie within {low:g}..{high:g}, got {text}")
        return value

    return parse


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number of at least ``low`` (and at most ``high`` when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            span = f"{low}..{high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value

    return parse


#: A TCP port to listen on (1..65535; a socket refuses 70000 with an OverflowError).
port_number = bounded_int(1, 65535)


def log_level(text: str) -> str:
    """One of LOG_LEVELS, in any case."""
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return level


def writable_folder(path: Path) -> str | None:
    """Why a report folder cannot be written at ``path`` (None when it can): checked
    before a run, so a bad ``--out`` fails in a second rather than after the run."""
    if path.exists() and not path.is_dir():
        return f"{path} exists and is not a folder"
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create {path}: {error.strerror}"
    return None


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr (the README's
    promise for exit 2), naming the command and where to read more."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required"):
            message = self._name_missing_commands(message)
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def _name_missing_commands(self, message: str) -> str:
        """ "required: grid_command" (an internal name) as "required: a command
        (check, headroom, hosting-capacity)"."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and action.dest:
                names = ", ".join(action.choices or ())
                message = message.replace(action.dest, f"a command ({names})")
        return message
