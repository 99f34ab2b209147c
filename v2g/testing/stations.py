"""A fake for the CSMS's credential check: fixed station passwords."""

from __future__ import annotations

from collections.abc import Mapping


class StaticCredentials:
    """Station passwords held in memory (``StationCredentials``)."""

    def __init__(self, passwords: Mapping[str, str]) -> None:
        self._passwords = dict(passwords)

    async def verify(self, station_id: str, password: str) -> bool:
        return self._passwords.get(station_id) == password
