"""The reference in docs/ names every key the loaders read and every route the API
serves, and nothing points at documents that are not in the repository."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from v2g.api.app import ROUTES
from v2g.openadr.config import OADR2_KEYS, OADR3_KEYS, SIGNAL_KEYS
from v2g.secc.config import EvseConfig
from v2g.service import config as site_config

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"


def _named(document: str) -> set[str]:
    """Every `code` span of ``document`` (fenced blocks left out)."""
    text = re.sub(r"```.*?```", "", (DOCS / document).read_text(encoding="utf-8"), flags=re.S)
    return set(re.findall(r"`([^`]+)`", text))


def test_every_site_and_charger_key_the_loaders_read_is_documented():
    named = _named("configuration.md")
    site_keys = {key for keys in site_config._KEYS.values() for key in keys}
    site_keys |= OADR2_KEYS | OADR3_KEYS | SIGNAL_KEYS
    charger_keys = {f.name for f in fields(EvseConfig)} | {"codec", "log_level", "pki_dir"}
    sections = {f"[{s}]" for s in site_config._SECTIONS - {"charger", "vehicle", "tariff"}}
    sections |= {"[[charger]]", "[[vehicle]]", "[[evse]]", "[[tariff]]"}
    missing = sorted((site_keys | charger_keys | sections) - named)
    assert not missing, f"docs/configuration.md does not name {missing}"


def test_every_api_route_is_documented():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    paths = {re.sub(r"\{[^}]+\}", "{}", p) for p in re.findall(r"/[\w/{}.-]+", text)}
    documented = paths | {p.removeprefix("/api/v1") for p in paths}
    for route in ROUTES:
        tail = re.sub(r"\{[^}]+\}", "{}", route.path.removeprefix("/api/v1"))
        assert tail in documented, f"docs/api.md does not name {route.method} {route.path}"


@pytest.mark.parametrize("scenario_key", ["start", "end", "step_s", "feeder", "vehicles"])
def test_the_scenario_reference_names_the_required_keys(scenario_key):
    assert scenario_key in _named("scenario.md")


def test_no_code_or_help_cites_documents_outside_the_repository():
    stale = []
    for path in [*ROOT.glob("v2g/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"\b(SPEC|ARCHITECTURE)\.md\b", text) and path.name != "test_docs.py":
            stale.append(str(path.relative_to(ROOT)))
    assert not stale, f"cite docs/ instead: {stale}"


def test_every_portfolio_key_the_loader_reads_is_documented():
    from v2g.portfolio import config as portfolio_config

    named = _named("configuration.md")
    keys = (
        portfolio_config._CLUSTER_KEYS
        | portfolio_config._PORTFOLIO_KEYS
        | portfolio_config._FEEDER_KEYS
    ) - {"charger"}
    sections = {"[cluster]", "[portfolio]", "[[feeder]]", "[[feeder.charger]]"}
    missing = sorted((keys | sections) - named)
    assert not missing, f"docs/configuration.md does not name {missing}"
