"""The charger file's OCPP part (``v2g secc`` as a charging station): ``[ocpp]``
``csms_url``, ``station_id``, ``password_file``, ``version``, ``queue_dir`` and each
``[[evse]]``'s ``ocpp_evse``. Split off the file before the SECC reads the rest, so
the SECC's own configuration stays as it is."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v2g.ocpp.config import TlsFiles
from v2g.ocpp.frames import OcppVersion

STATION_KEYS = frozenset(
    {
        "csms_url",
        "station_id",
        "password_file",
        "version",
        "queue_dir",
        "meter_interval_s",
        # security profiles 2 and 3 (v2g.ocpp.security)
        "security_profile",
        "ca_file",
        "client_cert",
        "client_key",
        "client_key_passphrase_env",
        # Authorize EIM / Plug & Charge sessions at the CSMS before charging
        "authorize",
        # while the CSMS is away, a token not on the local list may charge
        # (OCPP's OfflineTxForUnknownIdEnabled)
        "accept_unknown_offline",
        # ISO 15118-2 contract installation forwarded as Get15118EVCertificate
        "forward_certificate_installation",
    }
)
_VERSIONS = {"2.1": OcppVersion.V21, "2.0.1": OcppVersion.V201}


@dataclass(frozen=True, slots=True)
class OcppStationConfig:
    """How this charger reaches its CSMS. ``evses`` maps the SECC's EVSE ids to the
    evseId the CSMS knows them by; ``meter_interval_s`` is the least time between two
    meter values of one transaction (the charge loop measures far more often)."""

    csms_url: str
    station_id: str
    password_file: Path | None
    version: OcppVersion
    queue_dir: Path
    evses: Mapping[str, int]
    meter_interval_s: float = 10.0
    #: 1: ws:// and basic auth; 2: wss:// and basic auth; 3: wss:// and a client
    #: certificate (OCPP 2.0.1 part 2 A00). Fixed here, never lowered over OCPP.
    security_profile: int = 1
    #: ``ca``: the CSMS certificate's CA; ``cert``/``key``: this station's (profile 3).
    tls: TlsFiles = field(default_factory=TlsFiles)
    #: Ask the CSMS to Authorize each session (EIM: the EVCCID; PnC: the contract).
    authorize: bool = False
    #: While the CSMS is away, a token the local list does not hold may charge
    #: (OCPP's OfflineTxForUnknownIdEnabled); listed tokens go by their status.
    accept_unknown_offline: bool = False
    #: Forward the EV's CertificateInstallationReq to the CSMS (Get15118EVCertificate).
    forward_certificate_installation: bool = False

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
    profile = table.get("security_profile", 1)
    if isinstance(profile, bool) or profile not in (1, 2, 3):
        problems.append(f"ocpp.security_profile: must be 1, 2 or 3, got {profile!r}")
        profile = 1
    wanted = ["csms_url", "station_id", "queue_dir"]
    wanted += ["password_file"] if profile in (1, 2) else []
    text = {k: table.get(k) for k in wanted}
    for key, value in text.items():
        if not isinstance(value, str) or not value:
            problems.append(f"ocpp.{key}: must be a non-empty string, got {value!r}")
    url = str(text["csms_url"] or "")
    scheme = "ws://" if profile == 1 else "wss://"
    if url and not url.startswith(scheme):
        # A00.FR.001/003: one profile; a TLS profile never falls back to plain ws.
        problems.append(
            f"ocpp.csms_url: security profile {profile} connects to {scheme}..., got {url!r}"
        )
    tls = _tls_files(table, profile, base, problems)
    authorize = table.get("authorize", False)
    forward = table.get("forward_certificate_installation", False)
    unknown = table.get("accept_unknown_offline", False)
    for key, flag in (
        ("authorize", authorize),
        ("forward_certificate_installation", forward),
        ("accept_unknown_offline", unknown),
    ):
        if not isinstance(flag, bool):
            problems.append(f"ocpp.{key}: must be true or false, got {flag!r}")
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
        password_file=base / str(text["password_file"]) if "password_file" in text else None,
        version=version,
        queue_dir=base / str(text["queue_dir"]),
        evses=numbers,
        meter_interval_s=float(interval),
        security_profile=int(profile),
        tls=tls,
        authorize=bool(authorize),
        forward_certificate_installation=bool(forward),
        accept_unknown_offline=bool(unknown),
    )
    return rest, config, problems


def _tls_files(
    table: Mapping[str, Any], profile: int, base: Path, problems: list[str]
) -> TlsFiles:
    needed = {1: (), 2: ("ca_file",), 3: ("ca_file", "client_cert", "client_key")}[profile]
    paths: dict[str, Path | None] = {}
    for key in ("ca_file", "client_cert", "client_key"):
        value = table.get(key)
        if value is None and key in needed:
            problems.append(f"ocpp.{key}: security profile {profile} needs it")
        elif value is not None and (not isinstance(value, str) or not value):
            problems.append(f"ocpp.{key}: must be a file name, got {value!r}")
            value = None
        elif value is not None and key not in needed:
            problems.append(f"ocpp.{key}: not used by security profile {profile}")
        paths[key] = base / value if isinstance(value, str) and value else None
    variable = table.get("client_key_passphrase_env")
    return TlsFiles(
        paths["client_cert"],
        paths["client_key"],
        paths["ca_file"],
        variable if isinstance(variable, str) and variable else None,
    )


def speaks_ocpp(data: Mapping[str, Any]) -> bool:
    """True when a parsed charger file has an ``[ocpp]`` table."""
    return "ocpp" in data
