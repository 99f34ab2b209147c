"""Portfolio configuration (``v2g serve --config portfolio.toml``), from TOML.

A file with ``[cluster]`` is a portfolio: ``[cluster]`` (where Ray runs), ``[store]``,
``[api]``, ``[portfolio]`` (the cycle and the shared limits), one ``[[feeder]]`` per
network, and as a site has them ``[ocpp]`` (the CSMS for the feeders' stations) and
``[secc]`` (an SECC in this process for EVSEs of any feeder). Each feeder is read by
the site reader (``parse_site_config``) from the same keys a site TOML has, so a
feeder means exactly what a one-feeder site means. Every problem is reported together,
each named by where it is (``feeder[1].charger[0].bus``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from v2g.config import ConfigError, read_toml
from v2g.ocpp.config import OcppSiteConfig, parse_ocpp_site
from v2g.service.config import SiteConfig, parse_site_config, secc_beside

#: ``[grid]`` keys a feeder table carries itself (the network and its limits).
_FEEDER_GRID_KEYS = (
    "network",
    "max_line_loading_percent",
    "max_trafo_loading_percent",
    "vm_pu_min",
    "vm_pu_max",
)
_FEEDER_KEYS = {"name", "charger", *_FEEDER_GRID_KEYS}
_SECTIONS = {"cluster", "store", "api", "portfolio", "feeder", "ocpp", "secc"}
_CLUSTER_KEYS = {"address", "num_cpus", "object_store_mb", "shards"}
_PORTFOLIO_KEYS = {"interval_s", "cycle_deadline_s", "mv_export_cap_w", "lease_s"}


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """Where the shards run: ``"local"`` starts Ray in this process with ``num_cpus``;
    ``"ray://host:port"`` joins a cluster started with ``ray start --head``."""

    address: str = "local"
    num_cpus: int = 2
    object_store_mb: int = 200
    #: How many shard actors (feeders dealt over them); None: one per cluster CPU.
    shards: int | None = None

    @property
    def local(self) -> bool:
        return self.address == "local"


@dataclass(frozen=True, slots=True)
class FeederConfig:
    """One feeder: its name in the portfolio and its site (network, limits, chargers)."""

    name: str
    site: SiteConfig


@dataclass(frozen=True)
class PortfolioConfig:
    """Everything ``v2g serve`` needs to run a portfolio."""

    cluster: ClusterConfig
    feeders: tuple[FeederConfig, ...]
    #: The API, the store and the cycle, as a site has them (``[store]``, ``[api]``).
    service: SiteConfig
    interval_s: float = 60.0
    #: A shard that has not planned by then is cut from the cycle and reported.
    cycle_deadline_s: float = 10.0
    #: A shared MV transformer's export limit (W, >= 0) over all feeders, or None.
    mv_export_cap_w: float | None = None
    #: The CSMS for the feeders' stations (``[ocpp]``, as a site's), or None.
    ocpp: OcppSiteConfig | None = None
    #: One instance coordinates the portfolio; it renews its hold in the store this
    #: often at most apart, and a standby instance takes over once it is this old.
    lease_s: float = 15.0

    def feeder_of(self) -> dict[str, str]:
        """Each charger's feeder, by EVSE id."""
        return feeders_by_evse(self.feeders)


def feeders_by_evse(feeders: Sequence[FeederConfig]) -> dict[str, str]:
    """Each charger's feeder, by EVSE id."""
    return {c.evse_id: f.name for f in feeders for c in f.site.chargers}


def is_portfolio(data: Mapping[str, Any]) -> bool:
    """A parsed TOML file is a portfolio when it has ``[cluster]``."""
    return "cluster" in data


def _cluster(section: object, problems: list[str]) -> ClusterConfig:
    if not isinstance(section, Mapping):
        problems.append("[cluster] must be a table")
        return ClusterConfig()
    problems += [f"[cluster]: unknown key {k!r}" for k in section if k not in _CLUSTER_KEYS]
    address = section.get("address", "local")
    if not isinstance(address, str) or not (
        address == "local" or re.fullmatch(r"(ray://)?[\w.-]+:\d{1,5}", address)
    ):
        problems.append(
            f'cluster.address: must be "local", "ray://host:port" or "host:port", got {address!r}'
        )
        address = "local"
    counts: dict[str, int | None] = {}
    for key, default, low in (
        ("num_cpus", 2, 1),
        ("object_store_mb", 200, 80),
        ("shards", None, 1),
    ):
        value = section.get(key, default)
        if value is not default and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            problems.append(f"cluster.{key}: must be an integer >= {low}, got {value!r}")
            value = default
        counts[key] = value
    return ClusterConfig(
        address, counts["num_cpus"] or 2, counts["object_store_mb"] or 200, counts["shards"]
    )


def _number(
    table: Mapping[str, Any], key: str, default: float, problems: list[str], zero_ok: bool = False
) -> float:
    """``[portfolio] key``: a finite number > 0 (>= 0 when ``zero_ok``)."""
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        problems.append(f"portfolio.{key}: must be a finite number, got {value!r}")
        return default
    if value < 0 or (value == 0 and not zero_ok):
        problems.append(f"portfolio.{key}: must be {'>=' if zero_ok else '>'} 0, got {value}")
        return default
    return float(value)


def _feeder(
    index: int, item: object, problems: list[str], ocpp: bool = False
) -> FeederConfig | None:
    where = f"feeder[{index}]"
    if not isinstance(item, Mapping):
        problems.append(f"{where}: must be a table")
        return None
    problems += [f"{where}: unknown key {k!r}" for k in item if k not in _FEEDER_KEYS]
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: must be a non-empty string, got {name!r}")
        name = where
    if "network" not in item:
        problems.append(f"{where}.network: missing")
    site_toml = {
        "grid": {k: item[k] for k in _FEEDER_GRID_KEYS if k in item},
        "charger": item.get("charger", []),
        # The portfolio's [ocpp] is read once, below: here only the chargers' station keys.
        **({"ocpp": {}} if ocpp else {}),
    }
    try:
        site = parse_site_config(site_toml)
    except ConfigError as error:
        problems += [f"{where}.{problem.lstrip('[')}" for problem in error.problems]
        return None
    return FeederConfig(name, site)


def _feeders(tables: object, problems: list[str], ocpp: bool = False) -> list[FeederConfig]:
    """The ``[[feeder]]`` tables, names and EVSE ids unique across the portfolio."""
    if not isinstance(tables, list) or not tables:
        problems.append("[[feeder]]: a portfolio needs at least one feeder table")
        return []
    found = [f for i, item in enumerate(tables) if (f := _feeder(i, item, problems, ocpp))]
    names = [f.name for f in found]
    problems += [
        f"feeder: name {n!r} appears twice" for n in sorted(set(names)) if names.count(n) > 1
    ]
    evse_ids = [c.evse_id for f in found for c in f.site.chargers]
    problems += [
        f"feeder: evse_id {e!r} is on two feeders"
        for e in sorted(set(evse_ids))
        if evse_ids.count(e) > 1
    ]
    return found


def _ocpp(
    data: Mapping[str, Any], feeders: list[FeederConfig], problems: list[str]
) -> OcppSiteConfig | None:
    """The portfolio's ``[ocpp]`` over every feeder's chargers, read by the site's
    reader; each station's EVSEs on one feeder (a station is one connection, and its
    sessions go to one shard)."""
    if "ocpp" not in data:
        return None
    tables = data.get("feeder", [])
    chargers = [
        c
        for f in (tables if isinstance(tables, list) else [])
        if isinstance(f, Mapping)
        for c in (f.get("charger", []) if isinstance(f.get("charger"), list) else [])
    ]
    ocpp, found = parse_ocpp_site({"ocpp": data["ocpp"], "charger": chargers})
    # A charger's own problems are said per feeder (with the right index); a station
    # EVSE given twice may span feeders, so it is said here too.
    problems += [
        p.replace(p.split(": ", 1)[0], "ocpp", 1) if p.endswith("given twice") else p
        for p in found
        if not p.startswith("charger[") or p.endswith("given twice")
    ]
    feeder_of = feeders_by_evse(feeders)
    for station, evses in ({} if ocpp is None else ocpp.stations).items():
        on = sorted({feeder_of.get(e.evse_id, "?") for e in evses.values()})
        if len(on) > 1:
            problems.append(f"ocpp: station {station} has EVSEs on feeders {', '.join(on)}")
    return ocpp


def parse_portfolio_config(data: Mapping[str, Any]) -> PortfolioConfig:
    """A validated PortfolioConfig from parsed TOML (raises ConfigError with every
    problem)."""
    problems = [f"unknown section {key!r}" for key in data if key not in _SECTIONS]
    cluster = _cluster(data.get("cluster"), problems)
    shared = {key: data[key] for key in ("store", "api", "secc") if key in data}
    try:
        service = parse_site_config(shared)
    except ConfigError as error:
        problems += error.problems
        service = SiteConfig()
    section = data.get("portfolio", {})
    if not isinstance(section, Mapping):
        problems.append("[portfolio] must be a table")
        section = {}
    problems += [f"[portfolio]: unknown key {k!r}" for k in section if k not in _PORTFOLIO_KEYS]
    found = _feeders(data.get("feeder", []), problems, "ocpp" in data)
    cap = section.get("mv_export_cap_w")
    config = PortfolioConfig(
        cluster=cluster,
        feeders=tuple(found),
        service=service,
        interval_s=_number(section, "interval_s", 60.0, problems),
        cycle_deadline_s=_number(section, "cycle_deadline_s", 10.0, problems),
        mv_export_cap_w=None
        if cap is None
        else _number(section, "mv_export_cap_w", 0.0, problems, zero_ok=True),
        ocpp=_ocpp(data, found, problems),
        lease_s=_number(section, "lease_s", 15.0, problems),
    )
    if problems:
        raise ConfigError(problems)
    return config


def load_portfolio_config(path: Path) -> PortfolioConfig:
    """The portfolio in ``path`` (raises ConfigError); the ``[ocpp]`` file names
    relative to its folder, as a site's."""
    config = parse_portfolio_config(read_toml(path))
    config = replace(config, service=secc_beside(config.service, path.parent))
    if config.ocpp is None:
        return config
    return replace(config, ocpp=config.ocpp.resolved(path.parent))


def is_portfolio_file(path: Path | None) -> bool:
    """True when ``path`` is a TOML file with ``[cluster]`` (False when it cannot be
    read: the site loader then says why)."""
    if path is None:
        return False
    try:
        return is_portfolio(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError):
        return False
