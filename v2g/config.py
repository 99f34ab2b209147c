"""What every configuration loader raises (site TOML, charger TOML): one error type.

The keys, units and defaults of both files are in docs/configuration.md.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration that cannot run; ``problems`` lists every issue found, so a user
    fixes the file in one go."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
