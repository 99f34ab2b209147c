"""The charger file's OCPP part (``v2g secc`` as a charging station): ``[ocpp]``
``csms_url``, ``station_id``, ``password_file``, ``version``, ``queue_dir`` and each
``[[evse]]``'s ``ocpp_evse``. Split off the file before the SECC reads the rest, so
the SECC's own configuration stays as it is."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v2g.ocpp.frames import OcppVersion

STATION_KEYS = frozenset(
    {"csms_url", "station_id", "password_file", "version", "queue_dir", "meter_interval_s"}
)
_VERSIONS = {"2.1": OcppVersion.V21, "2.0.1": OcppVersion.V201}


@dataclass(frozen=True, slots=True)
class OcppStationConfig:
    """How this charger reaches its CSMS. ``evses`` maps the SECC's EVSE ids to the
    evseId the CSMS knows them by; ``meter_interval_s`` is the least time between two
    meter values of one transaction (the charge loop measures far more often)."""

    csms_url: str
    station_id: str
    password_file: Path
    version: OcppVersion
    queue_dir: Path
    evses: Mapping[str, int]
    meter_interval_s: float = 10.0

    @property
    def url(self) -> str:
        """Where the station connects: the CSMS URL and the station id (OCPP-J 2.0.1 §3.1.1)."""
        return f"{self.csms_url.rstrip('/')}/{self.station_id}"


def split_ocpp(
    data: Mapping[str, Any], base: Path
) -> tuple[dict[str, Any], OcppStationConfig | None, list[str]]:
    """The charger file without its OCPP parts, those parts (None without ``[ocpp]``)
    and the problems found in them. Relative paths are taken from ``base``."""
    rest = {k: v for k, v in data.items() if k != "ocpp"}
    evses = data.get("evse", [])
    numbers: dict[str, int] = {}
    problems: list[str] = []
    if isinstance(evses, list):
        rest["evse"] = [
            {k: v for k, v in e.items() if k != "ocpp_evse"} if isinstance(e, Mapping) else e
            for e in evses
        ]
        for i, evse in enumerate(evses):
            if isinstance(evse, Mapping):
                number = evse.get("ocpp_evse", i + 1)
                if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                    problems.append(
                        f"evse[{i}].ocpp_evse: must be an integer >= 1, got {number!r}"
                    )
                    continue
                if number in numbers.values():
                    problems.append(f"evse[{i}].ocpp_evse: {number} is given twice")
                numbers[str(evse.get("evse_id", i))] = number
    table = data.get("ocpp")
    if table is None:
        return rest, None, problems
    if not isinstance(table, Mapping):
        return rest, None, [*problems, "[ocpp] must be a table"]
    problems += [f"[ocpp]: unknown key {k!r}" for k in table if k not in STATION_KEYS]
    text = {k: table.get(k) for k in ("csms_url", "station_id", "password_file", "queue_dir")}
    for key, value in text.items():
        if not isinstance(value, str) or not value:
            problems.append(f"ocpp.{key}: must be a non-empty string, got {value!r}")
    url = str(text["csms_url"] or "")
    if url and not url.startswith(("ws://", "wss://")):
        problems.append(f"ocpp.csms_url: must start with ws:// or wss://, got {url!r}")
    version = _VERSIONS.get(str(table.get("version", "2.1")))
    if version is None:
        problems.append(f'ocpp.version: must be "2.1" or "2.0.1", got {table.get("version")!r}')
    interval = table.get("meter_interval_s", 10.0)
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not (math.isfinite(interval) and interval > 0)
    ):
        problems.append(f"ocpp.meter_interval_s: must be a number > 0, got {interval!r}")
        interval = 10.0
    if problems or version is None:
        return rest, None, problems
    config = OcppStationConfig(
        csms_url=url,
        station_id=str(text["station_id"]),
        password_file=base / str(text["password_file"]),
        version=version,
        queue_dir=base / str(text["queue_dir"]),
        evses=numbers,
        meter_interval_s=float(interval),
    )
    return rest, config, problems
