"""The site file's OCPP part: the ``[ocpp]`` table (where the CSMS listens, how
stations authenticate, when profiles go out) and each ``[[charger]]``'s
``station_id`` / ``ocpp_evse``. Parsed apart from the rest of the site file; every
problem is reported, none stops the reading."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from v2g.ocpp.profiles import ProfilePolicy
from v2g.ocpp.station import StationEvse

OCPP_KEYS = frozenset(
    {"listen", "security_profile", "deadband_w", "renew_before_s", "call_timeout_s"}
)
CHARGER_KEYS = frozenset({"station_id", "ocpp_evse"})


@dataclass(frozen=True, slots=True)
class OcppSiteConfig:
    """The CSMS of ``v2g serve``: it listens on ``host``:``port`` at
    ``/ocpp/<station id>``; ``stations`` maps each station id to its EVSEs by evseId."""

    host: str
    port: int
    security_profile: int = 1
    policy: ProfilePolicy = field(default_factory=ProfilePolicy)
    call_timeout_s: float = 30.0
    stations: Mapping[str, Mapping[int, StationEvse]] = field(default_factory=dict)

    def station_of(self, evse_id: str) -> str | None:
        """The station holding site EVSE ``evse_id``, or None (not an OCPP charger)."""
        return next(
            (
                s
                for s, evses in self.stations.items()
                for e in evses.values()
                if e.evse_id == evse_id
            ),
            None,
        )


def parse_ocpp_site(data: Mapping[str, Any]) -> tuple[OcppSiteConfig | None, list[str]]:
    """The OCPP configuration in a parsed site file (None without ``[ocpp]``) and the
    problems found."""
    problems: list[str] = []
    table = data.get("ocpp")
    stations = _stations(data.get("charger", []), problems)
    if table is None:
        if stations:
            problems.append("charger: station_id needs an [ocpp] table")
        return None, problems
    if not isinstance(table, Mapping):
        return None, [*problems, "[ocpp] must be a table"]
    problems += [f"[ocpp]: unknown key {k!r}" for k in table if k not in OCPP_KEYS]
    host, port = _listen(table.get("listen", "127.0.0.1:9000"), problems)
    profile = table.get("security_profile", 1)
    if profile != 1 or isinstance(profile, bool):
        problems.append(
            f"ocpp.security_profile: only 1 (basic auth) is available yet, got {profile!r}"
        )
    deadband = _number(table, "deadband_w", 100.0, problems)
    renew = _number(table, "renew_before_s", 300.0, problems)
    timeout = _number(table, "call_timeout_s", 30.0, problems)
    policy = ProfilePolicy(deadband, renew if renew > 0 else 300.0)
    config = OcppSiteConfig(host, port, 1, policy, timeout if timeout > 0 else 30.0, stations)
    return config, problems


def _listen(value: Any, problems: list[str]) -> tuple[str, int]:
    host, _, port = str(value).rpartition(":")
    if not isinstance(value, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(f"ocpp.listen: must be HOST:PORT, got {value!r}")
        return "127.0.0.1", 9000
    return host.strip("[]"), int(port)


def _number(table: Mapping[str, Any], key: str, default: float, problems: list[str]) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"ocpp.{key}: must be a number, got {value!r}")
        return default
    if value < 0:
        problems.append(f"ocpp.{key}: must be >= 0, got {value}")
        return default
    return float(value)


def _stations(chargers: Any, problems: list[str]) -> dict[str, dict[int, StationEvse]]:
    stations: dict[str, dict[int, StationEvse]] = {}
    if not isinstance(chargers, list):
        return stations
    for i, charger in enumerate(chargers):
        if not isinstance(charger, Mapping) or not CHARGER_KEYS & set(charger):
            continue
        where = f"charger[{i}]"
        station, evse = charger.get("station_id"), charger.get("ocpp_evse", 1)
        if not isinstance(station, str) or not station:
            problems.append(f"{where}.station_id: must be a non-empty string, got {station!r}")
            continue
        if isinstance(evse, bool) or not isinstance(evse, int) or evse < 1:
            problems.append(f"{where}.ocpp_evse: must be an integer >= 1, got {evse!r}")
            continue
        power = charger.get("max_charge_power_w", 0.0)
        if isinstance(power, bool) or not isinstance(power, int | float) or power < 0:
            continue  # the site file's own check reports it
        held = stations.setdefault(station, {})
        if evse in held:
            problems.append(f"{where}: station {station} evse {evse} is given twice")
            continue
        held[evse] = StationEvse(str(charger.get("evse_id", "?")), evse, float(power))
    return stations
