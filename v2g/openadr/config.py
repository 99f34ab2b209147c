"""The site file's ``[openadr]`` table: which VTN ``v2g serve`` follows, and how.

``version = "2.0b"`` makes the fleet an OpenADR 2.0b VEN (``VenConfig``);
``version = "3"`` (or ``"3.0.1"`` / ``"3.1.0"``) an OpenADR 3 client
(``Oadr3Config``), optionally receiving the VTN's webhooks on a port of its own.
Parsed apart from the rest of the site file; every problem is reported together,
files named in it (certificates, the client secret) are resolved beside the site
file and must be readable, so a typo fails at start-up, before anything runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from v2g.openadr.oadr3_client import Oadr3Config
from v2g.openadr.signals import LEVEL_KINDS, LevelRequest, SignalMapping
from v2g.openadr.ven import VenConfig

COMMON_KEYS = frozenset({"version", "vtn_url", "poll_interval_s", "signals"})
OADR2_KEYS = COMMON_KEYS | {
    "ven_name",
    "ven_id",
    "cert_path",
    "key_path",
    "ca_file",
    "vtn_fingerprint",
    "check_hostname",
    "report_sampling_s",
    "min_delivery_fraction",
    "offer_confidence",
}
OADR3_KEYS = COMMON_KEYS | {
    "client_id",
    "client_secret",
    "client_secret_file",
    "token_url",
    "client_name",
    "programs",
    "webhook",
    "webhook_listen",
    "webhook_url",
}
SIGNAL_KEYS = frozenset({"load_dispatch_unit_w", "price_per_unit", "levels"})
#: Where the webhook receiver listens on this host, and its path.
WEBHOOK_PATH = "/openadr3/notifications"


@dataclass(frozen=True, slots=True)
class Oadr3Site:
    """An OpenADR 3 client as ``v2g serve`` runs it: the client's configuration and,
    with ``webhook``, where our receiver listens and the URL the VTN is told to call."""

    client: Oadr3Config
    webhook: bool = False
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8081
    webhook_url: str = ""


OpenAdrSite = VenConfig | Oadr3Site


def parse_openadr_site(
    data: Mapping[str, Any], base: Path | None = None
) -> tuple[OpenAdrSite | None, list[str]]:
    """The ``[openadr]`` table of a parsed site file (None without one) and every
    problem found. Relative file names are taken beside ``base`` (the site file's
    folder)."""
    table = data.get("openadr")
    if table is None:
        return None, []
    if not isinstance(table, Mapping):
        return None, ["[openadr] must be a table"]
    read = _Read(table, base)
    version = table.get("version")
    if version == "2.0b":
        found: OpenAdrSite | None = _oadr2(read)
    elif version in ("3", "3.0.1", "3.1.0"):
        found = _oadr3(read, None if version == "3" else str(version))
    else:
        return None, [f'openadr.version: must be "2.0b", "3", "3.0.1" or "3.1.0", got {version!r}']
    return (None if read.problems else found), read.problems


class _Read:
    """Typed values of the ``[openadr]`` table; problems collected, never raised."""

    def __init__(self, table: Mapping[str, Any], base: Path | None) -> None:
        self.table = table
        self.base = base
        self.problems: list[str] = []

    def keys(self, allowed: frozenset[str], version: str) -> None:
        self.problems += [
            f"openadr.{k}: not a key of OpenADR {version} (keys: {', '.join(sorted(allowed))})"
            for k in self.table
            if k not in allowed
        ]

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.problems.append(f"openadr.{key}: must be a non-empty string, got {value!r}")
            return default
        return value

    def required(self, key: str) -> str:
        if key not in self.table:
            self.problems.append(f"openadr.{key}: missing")
            return ""
        return self.text(key) or ""

    def url(self, key: str) -> str:
        value = self.required(key)
        if value and not value.startswith(("http://", "https://")):
            self.problems.append(f"openadr.{key}: must be an http(s) URL, got {value!r}")
        return value

    def number(self, key: str, default: float, low: float, high: float = math.inf) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problems.append(f"openadr.{key}: must be a number, got {value!r}")
            return default
        if not (math.isfinite(value) and low < value <= high):
            self.problems.append(f"openadr.{key}: must lie in ({low:g}, {high:g}], got {value}")
            return default
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problems.append(f"openadr.{key}: must be true or false, got {value!r}")
            return default
        return value

    def file(self, key: str) -> str | None:
        """A readable file named by ``key`` (resolved beside the site file), or None."""
        name = self.text(key)
        if name is None:
            return None
        path = Path(name)
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        try:
            path.read_bytes()
        except OSError as error:
            self.problems.append(f"openadr.{key}: cannot read {path}: {error.strerror}")
        return str(path)

    def mapping(self) -> SignalMapping:
        table = self.table.get("signals", {})
        if not isinstance(table, Mapping):
            self.problems.append("[openadr.signals] must be a table")
            return SignalMapping()
        self.problems += [
            f"openadr.signals.{k}: unknown key (keys: {', '.join(sorted(SIGNAL_KEYS))})"
            for k in table
            if k not in SIGNAL_KEYS
        ]
        inner = _Read(table, self.base)
        unit = inner.number("load_dispatch_unit_w", 1000.0, 0.0)
        price = inner.number("price_per_unit", 1.0, -math.inf)
        self.problems += [p.replace("openadr.", "openadr.signals.", 1) for p in inner.problems]
        levels = _levels(table.get("levels"), self.problems)
        if levels is None:
            return SignalMapping(unit, price_per_unit=price)
        return SignalMapping(unit, levels, price)


def _levels(value: Any, problems: list[str]) -> dict[int, LevelRequest] | None:
    """``[openadr.signals.levels]``: ``"1" = { kind = "import_limit_w", value_w = 0 }``."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append("[openadr.signals.levels] must be a table")
        return None
    levels = {}
    for level, request in value.items():
        where = f"openadr.signals.levels.{level}"
        if level not in ("1", "2", "3"):
            problems.append(f"{where}: SIMPLE levels are 1, 2 or 3")
            continue
        if not isinstance(request, Mapping) or set(request) != {"kind", "value_w"}:
            problems.append(f"{where}: must be {{ kind = ..., value_w = ... }}")
            continue
        try:
            levels[int(level)] = LevelRequest(str(request["kind"]), float(request["value_w"]))
        except (TypeError, ValueError) as error:
            problems.append(f"{where}: {error} (kinds: {', '.join(LEVEL_KINDS)})")
    return levels


def _oadr2(read: _Read) -> VenConfig | None:
    read.keys(OADR2_KEYS, "2.0b")
    cert, key = read.file("cert_path"), read.file("key_path")
    if (cert is None) != (key is None):
        read.problems.append("openadr: cert_path and key_path go together (both or neither)")
    fraction = read.number("min_delivery_fraction", 1.0, 0.0, 1.0)
    try:
        return VenConfig(
            vtn_url=read.url("vtn_url"),
            ven_name=read.required("ven_name"),
            ven_id=read.text("ven_id"),
            poll_interval_s=read.number("poll_interval_s", 10.0, 0.0, 3600.0),
            cert_path=cert,
            key_path=key,
            ca_file=read.file("ca_file"),
            vtn_fingerprint=read.text("vtn_fingerprint"),
            check_hostname=read.flag("check_hostname", True),
            min_delivery_fraction=fraction,
            report_sampling_s=read.number("report_sampling_s", 10.0, 0.0, 3600.0),
            mapping=read.mapping(),
            offer_confidence=read.number("offer_confidence", 0.9, 0.0, 1.0),
        )
    except ValueError as error:
        read.problems.append(f"openadr: {error}")
        return None


def _oadr3(read: _Read, version: str | None) -> Oadr3Site | None:
    read.keys(OADR3_KEYS, "3")
    secret = _secret(read)
    programs = read.table.get("programs", [])
    if not isinstance(programs, list) or not all(isinstance(p, str) and p for p in programs):
        read.problems.append(f"openadr.programs: must list program names, got {programs!r}")
        programs = []
    webhook = read.flag("webhook", False)
    host, port = _listen(read, webhook)
    url = read.text("webhook_url") or f"http://{host}:{port}{WEBHOOK_PATH}"
    token_url = read.text("token_url")
    if token_url is not None and not token_url.startswith(("http://", "https://")):
        read.problems.append(f"openadr.token_url: must be an http(s) URL, got {token_url!r}")
    try:
        client = Oadr3Config(
            base_url=read.url("vtn_url"),
            client_id=read.required("client_id"),
            client_secret=secret,
            client_name=read.text("client_name", "v2g-aggregator") or "v2g-aggregator",
            programs=tuple(programs),
            poll_interval_s=read.number("poll_interval_s", 10.0, 0.0, 3600.0),
            token_url=token_url,
            mapping=read.mapping(),
            version=version,
        )
    except ValueError as error:
        read.problems.append(f"openadr: {error}")
        return None
    return Oadr3Site(client, webhook, host, port, url)


def _secret(read: _Read) -> str:
    """The OAuth client secret: from ``client_secret_file`` (first line), or inline."""
    given = [k for k in ("client_secret", "client_secret_file") if k in read.table]
    if len(given) != 1:
        read.problems.append("openadr: give exactly one of client_secret_file or client_secret")
        return ""
    if given == ["client_secret"]:
        return read.text("client_secret") or ""
    path = read.file("client_secret_file")
    try:
        lines = [] if path is None else Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""  # read.file said why
    except UnicodeDecodeError:
        lines = []
    if not lines or not lines[0].strip():
        read.problems.append(f"openadr.client_secret_file: {path} is empty")
        return ""
    return lines[0].strip()


def _listen(read: _Read, webhook: bool) -> tuple[str, int]:
    value = read.table.get("webhook_listen", "127.0.0.1:8081")
    host, _, port = str(value).rpartition(":")
    if not isinstance(value, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
        read.problems.append(f"openadr.webhook_listen: must be HOST:PORT, got {value!r}")
        return "127.0.0.1", 8081
    if not webhook and "webhook_listen" in read.table:
        read.problems.append("openadr.webhook_listen: set webhook = true to receive webhooks")
    return host.strip("[]"), int(port)
