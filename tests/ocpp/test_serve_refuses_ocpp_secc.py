"""``v2g serve`` runs an in-process SECC from ``[secc] config``; that SECC reports to
the aggregator directly, so a charger file with ``[ocpp]`` (a station that would speak
OCPP to this very process) is refused before anything is opened or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ocpp.processes import v2g
from v2g.config import ConfigError
from v2g.service.config import load_site_config

CHARGER = """
[[evse]]
evse_id = "E1"
interface = "lo"
current = "dc"
max_charge_power_w = 11000
[ocpp]
csms_url = "ws://127.0.0.1:9000/ocpp"
station_id = "CS-001"
password_file = "cs-001.password"
queue_dir = "queue"
"""

SITE = """
[store]
url = "sqlite+aiosqlite:///{data}/v2g.db"
[secc]
config = "charger.toml"
[[charger]]
evse_id = "E1"
bus = "Bus R11"
max_charge_power_w = 11000
"""


def write(tmp_path: Path) -> Path:
    (tmp_path / "charger.toml").write_text(CHARGER)
    site = tmp_path / "site.toml"
    site.write_text(SITE.format(data=tmp_path / "data"))
    return site


def test_the_site_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_site_config(write(tmp_path))
    (problem,) = raised.value.problems
    assert "has an [ocpp] table" in problem and "v2g secc --config" in problem


def test_v2g_serve_exits_2_and_opens_no_store(tmp_path: Path) -> None:
    site = write(tmp_path)
    before = site.read_text(), (tmp_path / "charger.toml").read_text()
    done = v2g("serve", "--config", str(site))
    assert done.returncode == 2, done.stderr
    assert "does not speak OCPP to itself" in done.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "data").exists()  # nothing opened, nothing written
    assert (site.read_text(), (tmp_path / "charger.toml").read_text()) == before
