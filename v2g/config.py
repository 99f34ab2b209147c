"""What every configuration loader raises (site TOML, charger TOML): one error type.

The keys, units and defaults of both files are in docs/configuration.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration that cannot run; ``problems`` lists every issue found, so a user
    fixes the file in one go."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def read_toml(path: Path) -> dict[str, Any]:
    """``path`` parsed as TOML (raises ConfigError saying why it cannot be)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError([f"cannot read {path}: {error.strerror}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path} is not valid TOML: {error}"]) from error
