"""Site configuration for ``v2g serve`` and ``v2g token create``, from TOML.

Units are in the keys (``max_charge_power_w``, ``interval_s``; every key in
docs/configuration.md). The file is checked
once and every problem is reported together; bus names are checked against the
network too. Without a file the embedded defaults apply: SQLite under ``./v2g-data``,
the ``cigre-lv`` feeder, the API on 127.0.0.1:8080.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gridmodel import GridLimits
from v2g.api.ratelimit import RateLimit
from v2g.billing import Operator, Tariff, TariffError
from v2g.billing.documents import TARIFF_KEYS, tariff_of
from v2g.config import ConfigError, read_toml
from v2g.fleet import Charger, DefaultNeeds
from v2g.ocpp.config import CHARGER_KEYS, OCPP_KEYS, OcppSiteConfig, parse_ocpp_site
from v2g.ocpp.station_config import speaks_ocpp
from v2g.openadr.config import OpenAdrSite, parse_openadr_site
from v2g.store import sqlite_url
from v2g.store.billing import BillingTerms
from v2g.store.events import KEEP_ENDED_EVENTS_S
from v2g.store.plans import KEEP_PLAN_ROWS

DEFAULT_DATA_DIR = Path("v2g-data")


@dataclass(frozen=True, slots=True)
class VehicleConfig:
    """An owner's terms for one vehicle (by the EV id its sessions report)."""

    ev_id: str
    v2g_allowed: bool = False
    reserve_soc_percent: float = 20.0
    accept_shortfall: bool = False


@dataclass(frozen=True)
class SiteConfig:
    """Everything ``v2g serve`` needs."""

    store_url: str = field(default_factory=lambda: sqlite_url(DEFAULT_DATA_DIR / "v2g.db"))
    #: Plans kept in the store (the newest; older ones are deleted as new ones come).
    keep_plans: int = KEEP_PLAN_ROWS
    #: Seconds a DR event is kept in the store after it ended or was cancelled.
    keep_ended_dr_events_s: float = KEEP_ENDED_EVENTS_S
    host: str = "127.0.0.1"
    port: int = 8080
    network: str = "cigre-lv"
    limits: GridLimits | None = None
    interval_s: float = 60.0
    plan_timeout_s: float = 5.0
    slot_s: float = 900.0
    horizon_slots: int = 96
    setpoint_valid_s: float = 1800.0
    #: Tariffs from ``[[tariff]]`` (seed an empty store), chargers' tariffs, CDR issuer.
    tariffs: tuple[Tariff, ...] = ()
    billing: BillingTerms = field(default_factory=BillingTerms)
    #: Requests per API token (``[api] requests_per_s`` and ``burst``).
    rate: RateLimit = field(default_factory=RateLimit)
    #: How often (s) a running DR event's M&V is measured again from meter data.
    metered_mv_interval_s: float = 300.0
    #: The planner expects the arrivals the site's session history foresees.
    foresee_arrivals: bool = True
    #: The chargers as configured: bus by name or index, resolved against the network
    #: at start-up (``v2g.service.assembly.site_of``).
    chargers: tuple[Charger[str | int], ...] = ()
    vehicles: tuple[VehicleConfig, ...] = ()
    #: ``[needs]``: what a vehicle that states no needs is assumed to need.
    default_needs: DefaultNeeds = field(default_factory=DefaultNeeds)
    #: A charger TOML (``v2g secc``'s file) whose SECC runs in this process.
    secc_config: Path | None = None
    #: ``[secc] authorize``: the in-process SECC charges only sessions the site's
    #: drivers authorize (v2g/service/secc_authorize.py); off, EIM is accepted.
    secc_authorize: bool = False
    #: The CSMS for chargers that connect over OCPP (``[ocpp]``), or None.
    ocpp: OcppSiteConfig | None = None
    #: The utility's VTN the service follows (``[openadr]``), or None.
    openadr: OpenAdrSite | None = None

    def data_dir(self) -> Path | None:
        """The folder a SQLite store lives in (created at start-up), else None."""
        prefix = "sqlite+aiosqlite:///"
        if not self.store_url.startswith(prefix):
            return None
        path = self.store_url.removeprefix(prefix)
        if path.startswith("file:"):
            # SQLite's URI form (``file:/path?mode=ro&uri=true``): the folder is the
            # path's, not a folder named "file:" under the working directory.
            path = path.removeprefix("file:").partition("?")[0]
        return Path(path).parent


def _rate(read: _Reader, api: Mapping[str, Any], default: RateLimit) -> RateLimit:
    per_s = read.number(api, "requests_per_s", "api", default.requests_per_s, 0.001)
    burst = api.get("burst", default.burst)
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= 1_000_000:
        read.problems.append(f"api.burst: must be an integer within 1..1000000, got {burst!r}")
        burst = default.burst
    return RateLimit(per_s, burst)


_SECTIONS = {
    "store",
    "api",
    "grid",
    "control",
    "charger",
    "vehicle",
    "secc",
    "needs",
    "ocpp",
    "tariff",
    "billing",
    "openadr",
}
_KEYS = {
    "store": {"url", "keep_plans", "keep_ended_dr_events_s"},
    "api": {"host", "port", "requests_per_s", "burst"},
    "grid": {
        "network",
        "max_line_loading_percent",
        "max_trafo_loading_percent",
        "vm_pu_min",
        "vm_pu_max",
    },
    "control": {
        "interval_s",
        "plan_timeout_s",
        "slot_s",
        "horizon_slots",
        "setpoint_valid_s",
        "metered_mv_interval_s",
        "foresee_arrivals",
    },
    "charger": {"evse_id", "bus", "max_charge_power_w", "max_discharge_power_w", "tariff"}
    | CHARGER_KEYS,
    "vehicle": {"ev_id", "v2g_allowed", "reserve_soc_percent", "accept_shortfall"},
    "secc": {"config", "authorize"},
    "needs": {"default_energy_wh", "default_dwell_s", "overstay_s"},
    "ocpp": set(OCPP_KEYS),
    "tariff": set(TARIFF_KEYS),
    "billing": {f.name for f in fields(Operator)},
}


class _Reader:
    """Reads typed values and collects problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.problems.append(f"[{key}] must be a table")
            return {}
        self.problems += [f"[{key}]: unknown key {k!r}" for k in value if k not in _KEYS[key]]
        return value

    def number(
        self, table: Mapping[str, Any], key: str, where: str, default: float, low: float = 0.0
    ) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"{where}.{key}: must be a number, got {value!r}")
            return default
        if not math.isfinite(value) or value < low:
            self.problems.append(f"{where}.{key}: must be a finite number >= {low:g}, got {value}")
            return default
        return float(value)

    def text(self, table: Mapping[str, Any], key: str, where: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value:
            self.problems.append(f"{where}.{key}: must be a non-empty string, got {value!r}")
            return default
        return value

    def flag(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"{where}.{key}: must be true or false, got {value!r}")
            return default
        return value

    def tables(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.problems.append(f"[[{key}]] must be an array of tables")
            return []
        found = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if not isinstance(item, Mapping):
                self.problems.append(f"{where}: must be a table")
                continue
            self.problems += [f"{where}: unknown key {k!r}" for k in item if k not in _KEYS[key]]
            found.append((where, item))
        return found


def _store_section(
    read: _Reader, store: Mapping[str, Any], defaults: SiteConfig
) -> tuple[str, int, float]:
    """[store]: the URL, the plans kept and the DR events' retention (s)."""
    url = read.text(store, "url", "store", defaults.store_url)
    if not url.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://")):
        read.problems.append(
            "store.url: must start with sqlite+aiosqlite:/// or postgresql+asyncpg://"
        )
    keep_plans = store.get("keep_plans", defaults.keep_plans)
    if isinstance(keep_plans, bool) or not isinstance(keep_plans, int) or keep_plans < 1:
        read.problems.append(f"store.keep_plans: must be an integer >= 1, got {keep_plans!r}")
        keep_plans = defaults.keep_plans
    keep_events_s = read.number(
        store, "keep_ended_dr_events_s", "store", defaults.keep_ended_dr_events_s, 1.0
    )
    return url, keep_plans, keep_events_s


def _links(
    read: _Reader, data: Mapping[str, Any], base: Path | None
) -> tuple[OcppSiteConfig | None, OpenAdrSite | None]:
    """``[ocpp]`` and ``[openadr]``, each parsed by its own package."""
    ocpp, ocpp_problems = parse_ocpp_site(data)
    openadr, openadr_problems = parse_openadr_site(data, base)
    read.problems += ocpp_problems + openadr_problems
    return ocpp, openadr


def parse_site_config(data: Mapping[str, Any], folder: Path | None = None) -> SiteConfig:
    """A validated SiteConfig from parsed TOML (raises ConfigError with every
    problem). Files named in ``[openadr]`` are found in ``folder``."""
    read = _Reader()
    read.problems += [f"unknown section {key!r}" for key in data if key not in _SECTIONS]
    defaults = SiteConfig()
    store = read.table(data, "store")
    api = read.table(data, "api")
    grid = read.table(data, "grid")
    control = read.table(data, "control")
    secc = read.table(data, "secc")
    needs = read.table(data, "needs")
    url, keep_plans, keep_events_s = _store_section(read, store, defaults)
    port = api.get("port", defaults.port)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        read.problems.append(f"api.port: must be an integer within 1..65535, got {port!r}")
        port = defaults.port
    limits = None
    limit_keys = _KEYS["grid"] - {"network"}
    if any(k in grid for k in limit_keys):
        base = GridLimits()
        values = {k: read.number(grid, k, "grid", getattr(base, k)) for k in limit_keys}
        try:
            limits = GridLimits(**values)
        except ValueError as error:
            read.problems.append(f"grid: {error}")
    horizon = control.get("horizon_slots", defaults.horizon_slots)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 1 <= horizon <= 672:
        read.problems.append(
            f"control.horizon_slots: must be an integer within 1..672, got {horizon!r}"
        )
        horizon = defaults.horizon_slots
    chargers = _chargers(read, data)
    vehicles = []
    for where, item in read.tables(data, "vehicle"):
        reserve = read.number(item, "reserve_soc_percent", where, 20.0)
        if reserve > 100:
            read.problems.append(f"{where}.reserve_soc_percent: must lie within 0..100")
        vehicles.append(
            VehicleConfig(
                ev_id=read.text(item, "ev_id", where, "?"),
                v2g_allowed=read.flag(item, "v2g_allowed", where, False),
                reserve_soc_percent=min(reserve, 100.0),
                accept_shortfall=read.flag(item, "accept_shortfall", where, False),
            )
        )
    base_needs = DefaultNeeds()
    default_needs = DefaultNeeds(
        energy_wh=read.number(needs, "default_energy_wh", "needs", base_needs.energy_wh),
        dwell_s=read.number(needs, "default_dwell_s", "needs", base_needs.dwell_s, 60.0),
        overstay_s=read.number(needs, "overstay_s", "needs", base_needs.overstay_s, 60.0),
    )
    ocpp, openadr = _links(read, data, folder)
    tariffs, terms = _billing(read, data)
    config = SiteConfig(
        store_url=url,
        keep_plans=keep_plans,
        keep_ended_dr_events_s=keep_events_s,
        host=read.text(api, "host", "api", defaults.host),
        port=port,
        rate=_rate(read, api, defaults.rate),
        network=read.text(grid, "network", "grid", defaults.network),
        limits=limits,
        interval_s=read.number(control, "interval_s", "control", defaults.interval_s, 1.0),
        plan_timeout_s=read.number(
            control, "plan_timeout_s", "control", defaults.plan_timeout_s, 0.1
        ),
        slot_s=read.number(control, "slot_s", "control", defaults.slot_s, 60.0),
        horizon_slots=horizon,
        setpoint_valid_s=read.number(
            control, "setpoint_valid_s", "control", defaults.setpoint_valid_s, 1.0
        ),
        foresee_arrivals=read.flag(
            control, "foresee_arrivals", "control", defaults.foresee_arrivals
        ),
        metered_mv_interval_s=read.number(
            control, "metered_mv_interval_s", "control", defaults.metered_mv_interval_s, 1.0
        ),
        chargers=tuple(chargers),
        vehicles=tuple(vehicles),
        default_needs=default_needs,
        secc_config=Path(read.text(secc, "config", "secc", "")) if "config" in secc else None,
        secc_authorize=read.flag(secc, "authorize", "secc", False),
        ocpp=ocpp,
        tariffs=tariffs,
        billing=terms,
        openadr=openadr,
    )
    if config.secc_authorize and config.secc_config is None:
        read.problems.append(
            "secc.authorize: needs secc.config (the SECC whose sessions it decides)"
        )
    if read.problems:
        raise ConfigError(read.problems)
    return config


def _chargers(read: _Reader, data: Mapping[str, Any]) -> list[Charger[str | int]]:
    chargers: list[Charger[str | int]] = []
    for where, item in read.tables(data, "charger"):
        bus = item.get("bus")
        if isinstance(bus, bool) or not isinstance(bus, str | int):
            read.problems.append(f"{where}.bus: must be a bus name or index, got {bus!r}")
            bus = 0
        chargers.append(
            Charger(
                evse_id=read.text(item, "evse_id", where, "?"),
                bus=bus,
                max_charge_power_w=read.number(item, "max_charge_power_w", where, 0.0),
                max_discharge_power_w=read.number(item, "max_discharge_power_w", where, 0.0),
            )
        )
        if "max_charge_power_w" not in item:
            read.problems.append(f"{where}.max_charge_power_w: missing")
    ids = [c.evse_id for c in chargers]
    read.problems += [
        f"charger: evse_id {i!r} appears twice" for i in sorted(set(ids)) if ids.count(i) > 1
    ]
    return chargers


def _billing(read: _Reader, data: Mapping[str, Any]) -> tuple[tuple[Tariff, ...], BillingTerms]:
    """The ``[[tariff]]`` tables (the first is the default), each charger's ``tariff``
    and the ``[billing]`` operator (who issues the CDRs)."""
    tariffs = []
    for where, item in read.tables(data, "tariff"):
        try:
            tariffs.append(tariff_of(item, where))
        except TariffError as error:
            read.problems.append(str(error))
    ids = {t.tariff_id for t in tariffs}
    if len(ids) < len(tariffs):
        read.problems.append("tariff: two tariffs share an id")
    wanted: dict[str, str] = {}
    chargers = data.get("charger", [])
    for index, item in enumerate(chargers if isinstance(chargers, list) else []):
        where = f"charger[{index}]"  # the rest of the table is read (and checked) once, above
        if isinstance(item, Mapping) and "tariff" in item:
            tariff_id = read.text(item, "tariff", where, "?")
            if tariff_id not in ids:
                read.problems.append(f"{where}.tariff: no [[tariff]] with id {tariff_id!r}")
            wanted[str(item.get("evse_id"))] = tariff_id
    operator = Operator()
    section = read.table(data, "billing")
    values = {
        f.name: read.text(section, f.name, "billing", getattr(operator, f.name))
        for f in fields(Operator)
    }
    return tuple(tariffs), BillingTerms(wanted, Operator(**values))


def _charger_speaks_ocpp(path: Path) -> bool:
    """True when the charger file ``path`` has ``[ocpp]`` (False when it cannot be
    read: the SECC's own loader says why, later)."""
    try:
        return speaks_ocpp(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError):
        return False


def load_site_config(path: Path | None) -> SiteConfig:
    """The site configuration in ``path``, or the embedded defaults for None."""
    if path is None:
        return SiteConfig()
    config = secc_beside(parse_site_config(read_toml(path), path.parent), path.parent)
    if config.ocpp is not None:
        config = replace(config, ocpp=config.ocpp.resolved(path.parent))
    return config


def secc_beside(config: SiteConfig, folder: Path) -> SiteConfig:
    """``config`` with its ``[secc]`` charger file found in ``folder`` when relative
    (beside the file that names it); raises ConfigError for a charger file that speaks
    OCPP itself."""
    if config.secc_config is not None and not config.secc_config.is_absolute():
        config = replace(config, secc_config=folder / config.secc_config)
    if config.secc_config is not None and _charger_speaks_ocpp(config.secc_config):
        raise ConfigError(
            [
                f"secc.config: {config.secc_config} has an [ocpp] table, but the SECC "
                "inside v2g serve reports to it directly and does not speak OCPP to "
                "itself; run that charger with `v2g secc --config` instead, or remove "
                "its [ocpp] table"
            ]
        )
    return config
