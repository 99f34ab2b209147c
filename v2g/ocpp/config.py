"""The site file's OCPP part: the ``[ocpp]`` table (where the CSMS listens, how
stations authenticate, when profiles go out) and each ``[[charger]]``'s
``station_id`` / ``ocpp_evse``. Parsed apart from the rest of the site file; every
problem is reported, none stops the reading."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pki.emaid import EmaidError, normalise_emaid
from v2g.ocpp.profiles import ProfilePolicy
from v2g.ocpp.station import StationEvse


class TlsConfigError(ValueError):
    """A certificate, key or CA file that cannot make the TLS context; says which."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files of one side: its chain (leaf first) and key, the CA it trusts
    for the other side, and the name of the variable holding the key passphrase."""

    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    passphrase_env: str | None = None

    def passphrase(self, environ: Mapping[str, str]) -> bytes | None:
        if not self.passphrase_env:
            return None
        value = environ.get(self.passphrase_env)
        if not value:
            raise TlsConfigError(f"the TLS key is encrypted: set {self.passphrase_env}")
        return value.encode()

    def resolved(self, base: Path) -> TlsFiles:
        """Relative paths taken from ``base`` (the configuration file's folder)."""

        def at(path: Path | None) -> Path | None:
            return None if path is None or path.is_absolute() else base / path

        return TlsFiles(
            at(self.cert) or self.cert,
            at(self.key) or self.key,
            at(self.ca) or self.ca,
            self.passphrase_env,
        )


OCPP_KEYS = frozenset(
    {
        "listen",
        "security_profile",
        "deadband_w",
        "renew_before_s",
        "call_timeout_s",
        # security profiles 2 and 3 (v2g.ocpp.security)
        "tls_cert",
        "tls_key",
        "tls_key_passphrase_env",
        "client_ca",
        "organization",
        # Authorize (v2g.ocpp.authorize)
        "id_tokens",
        "contract_roots",
        "contract_crls",
        # Get15118EVCertificate from the project's PKI (v2g.ocpp.contract_provider)
        "contract_provider_pki",
        "contract_provider_emaid",
    }
)
_PATH_KEYS = ("tls_cert", "tls_key", "client_ca")
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
    #: Profiles 2 and 3: the CSMS chain and key; 3: the CA of the stations' certificates.
    tls: TlsFiles = field(default_factory=TlsFiles)
    #: Profile 3: the CSO name the stations' certificates carry in O (A00.FR.404).
    organization: str | None = None
    #: idTokens Authorize accepts (None: the site keeps no list, every token Unknown).
    id_tokens: tuple[str, ...] | None = None
    #: PEM files of the MO roots contract certificates chain to, and their CRLs.
    contract_roots: tuple[Path, ...] = ()
    contract_crls: tuple[Path, ...] = ()
    #: Test benches: a ``v2g pki init`` folder that issues contracts for this EMAID.
    contract_provider_pki: Path | None = None
    contract_provider_emaid: str | None = None

    def resolved(self, base: Path) -> OcppSiteConfig:
        """Relative file names taken from ``base`` (the site file's folder)."""

        def at(paths: tuple[Path, ...]) -> tuple[Path, ...]:
            return tuple(p if p.is_absolute() else base / p for p in paths)

        return replace(
            self,
            tls=self.tls.resolved(base),
            contract_roots=at(self.contract_roots),
            contract_crls=at(self.contract_crls),
            contract_provider_pki=at((self.contract_provider_pki,))[0]
            if self.contract_provider_pki is not None
            else None,
        )

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
    profile, tls = _security(table, problems)
    deadband = _number(table, "deadband_w", 100.0, problems)
    renew = _number(table, "renew_before_s", 300.0, problems)
    timeout = _number(table, "call_timeout_s", 30.0, problems)
    policy = ProfilePolicy(deadband, renew if renew > 0 else 300.0)
    organization = table.get("organization")
    if organization is not None and (not isinstance(organization, str) or not organization):
        problems.append(f"ocpp.organization: must be a non-empty string, got {organization!r}")
        organization = None
    id_tokens = table.get("id_tokens")
    if id_tokens is not None and not _strings(id_tokens):
        problems.append(f"ocpp.id_tokens: must be a list of strings, got {id_tokens!r}")
        id_tokens = None
    roots, crls = table.get("contract_roots", []), table.get("contract_crls", [])
    for key, value in (("contract_roots", roots), ("contract_crls", crls)):
        if not _strings(value):
            problems.append(f"ocpp.{key}: must be a list of file names, got {value!r}")
    provider, emaid = _contract_provider(table, problems)
    config = OcppSiteConfig(
        host,
        port,
        profile,
        policy,
        timeout if timeout > 0 else 30.0,
        stations,
        tls=tls,
        organization=organization,
        id_tokens=tuple(id_tokens) if id_tokens is not None else None,
        contract_roots=tuple(Path(p) for p in roots) if _strings(roots) else (),
        contract_crls=tuple(Path(p) for p in crls) if _strings(crls) else (),
        contract_provider_pki=provider,
        contract_provider_emaid=emaid,
    )
    return config, problems


def _contract_provider(
    table: Mapping[str, Any], problems: list[str]
) -> tuple[Path | None, str | None]:
    folder, emaid = table.get("contract_provider_pki"), table.get("contract_provider_emaid")
    if folder is None and emaid is None:
        return None, None
    if not isinstance(folder, str) or not folder or not isinstance(emaid, str) or not emaid:
        problems.append(
            "ocpp.contract_provider_pki and contract_provider_emaid: a PKI folder and an "
            f"EMAID, both, got {folder!r} and {emaid!r}"
        )
        return None, None
    try:
        normalise_emaid(emaid)
    except EmaidError as error:
        problems.append(f"ocpp.contract_provider_emaid: {error}")
        return None, None
    return Path(folder), emaid


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _security(table: Mapping[str, Any], problems: list[str]) -> tuple[int, TlsFiles]:
    """The security profile and its TLS files. OCPP 2.0.1 part 2 A00.FR.001: one
    profile at a time, so TLS files with profile 1 are a mistake, not a hint."""
    profile = table.get("security_profile", 1)
    if isinstance(profile, bool) or profile not in (1, 2, 3):
        problems.append(f"ocpp.security_profile: must be 1, 2 or 3, got {profile!r}")
        profile = 1
    paths: dict[str, Path | None] = {}
    for key in _PATH_KEYS:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            problems.append(f"ocpp.{key}: must be a file name, got {value!r}")
            value = None
        paths[key] = Path(value) if value else None
    given = [k for k, v in paths.items() if v is not None]
    needed = {1: (), 2: ("tls_cert", "tls_key"), 3: ("tls_cert", "tls_key", "client_ca")}
    for key in needed[profile]:
        if paths[key] is None:
            problems.append(f"ocpp.{key}: security profile {profile} needs it")
    if profile == 1 and given:
        problems.append(
            f"ocpp: {', '.join(given)} given with security_profile 1 (plain ws, basic "
            "auth); set security_profile = 2 (TLS) or 3 (TLS with client certificates)"
        )
    if profile == 2 and paths["client_ca"] is not None:
        problems.append("ocpp.client_ca: client certificates are security profile 3")
    passphrase_env = table.get("tls_key_passphrase_env")
    if passphrase_env is not None and (not isinstance(passphrase_env, str) or not passphrase_env):
        problems.append(f"ocpp.tls_key_passphrase_env: must be a name, got {passphrase_env!r}")
        passphrase_env = None
    tls = TlsFiles(paths["tls_cert"], paths["tls_key"], paths["client_ca"], passphrase_env)
    return int(profile), tls


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
