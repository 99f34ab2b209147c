"""The portfolio file: feeders read by the site reader, every problem reported at once,
and a site file without ``[cluster]`` left to the site path."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from v2g.config import ConfigError
from v2g.portfolio.config import (
    is_portfolio,
    is_portfolio_file,
    load_portfolio_config,
    parse_portfolio_config,
)
from v2g.service.config import load_site_config

PORTFOLIO = """
[cluster]
address = "local"
num_cpus = 2

[store]
url = "sqlite+aiosqlite:///data/v2g.db"

[portfolio]
interval_s = 30
cycle_deadline_s = 5
mv_export_cap_w = 400000

[[feeder]]
name = "north"
network = "cigre-lv"
max_line_loading_percent = 90

[[feeder.charger]]
evse_id = "N1"
bus = "Bus R11"
max_charge_power_w = 11000
max_discharge_power_w = 11000

[[feeder]]
name = "south"
network = "kerber-dorf"

[[feeder.charger]]
evse_id = "S1"
bus = 5
max_charge_power_w = 7400
"""


def test_a_portfolio_file_gives_each_feeder_its_network_limits_and_chargers():
    config = parse_portfolio_config(tomllib.loads(PORTFOLIO))
    assert config.cluster.local and config.cluster.num_cpus == 2
    assert config.service.store_url == "sqlite+aiosqlite:///data/v2g.db"
    assert (config.interval_s, config.cycle_deadline_s, config.mv_export_cap_w) == (30, 5, 4e5)
    north, south = config.feeders
    assert (north.name, north.site.network, south.site.network) == (
        "north",
        "cigre-lv",
        "kerber-dorf",
    )
    assert north.site.limits is not None and north.site.limits.max_line_loading_percent == 90
    assert south.site.limits is None
    assert [c.evse_id for c in north.site.chargers] == ["N1"]
    assert south.site.chargers[0].bus == 5
    assert south.site.chargers[0].max_discharge_power_w == 0


@pytest.mark.parametrize("address", ["ray://10.0.0.1:10001", "head.example:6379"])
def test_a_joining_cluster_address_is_taken_as_given(address):
    data = tomllib.loads(PORTFOLIO.replace('"local"', f'"{address}"'))
    assert parse_portfolio_config(data).cluster.address == address


def test_a_bad_portfolio_file_names_every_problem_by_where_it_is():
    bad = (
        PORTFOLIO.replace('address = "local"', 'address = "tcp://x"')
        .replace("num_cpus = 2", "num_cpus = 0\ncolour = 1")
        .replace('name = "south"', 'name = "north"')
        .replace('network = "kerber-dorf"', 'network = "kerber-dorf"\nvm_pu_min = "low"')
        .replace("max_charge_power_w = 7400", "")
        .replace('evse_id = "S1"', 'evse_id = "N1"')
        .replace("cycle_deadline_s = 5", "cycle_deadline_s = -1")
    )
    with pytest.raises(ConfigError) as raised:
        parse_portfolio_config(tomllib.loads(bad + "\n[grid]\nnetwork = 'cigre-lv'\n"))
    text = "; ".join(raised.value.problems)
    for where in (
        "cluster.address",
        "[cluster]: unknown key 'colour'",
        "cluster.num_cpus",
        "feeder[1].grid.vm_pu_min",
        "feeder[1].charger[0].max_charge_power_w: missing",
        "portfolio.cycle_deadline_s",
        "unknown section 'grid'",
    ):
        assert where in text, text


def test_feeder_names_and_evse_ids_must_be_unique_across_the_portfolio():
    twice = PORTFOLIO.replace('name = "south"', 'name = "north"').replace('"S1"', '"N1"')
    with pytest.raises(ConfigError) as raised:
        parse_portfolio_config(tomllib.loads(twice))
    assert "feeder: name 'north' appears twice" in raised.value.problems
    assert "feeder: evse_id 'N1' is on two feeders" in raised.value.problems


def test_a_portfolio_needs_a_feeder_and_each_feeder_a_network():
    with pytest.raises(ConfigError) as raised:
        parse_portfolio_config({"cluster": {}})
    assert any("at least one feeder" in p for p in raised.value.problems)
    with pytest.raises(ConfigError) as raised:
        parse_portfolio_config({"cluster": {}, "feeder": [{"name": "x"}]})
    assert "feeder[0].network: missing" in raised.value.problems


def test_a_site_file_without_cluster_is_a_site_and_reads_as_before(tmp_path):
    site = tmp_path / "site.toml"
    site.write_text('[grid]\nnetwork = "cigre-lv"\n')
    assert not is_portfolio_file(site) and not is_portfolio({"grid": {}})
    assert load_site_config(site).network == "cigre-lv"
    portfolio = tmp_path / "portfolio.toml"
    portfolio.write_text(PORTFOLIO)
    assert is_portfolio_file(portfolio)
    assert not is_portfolio_file(tmp_path / "missing.toml")


def test_the_example_portfolio_file_is_a_valid_portfolio() -> None:
    example = Path(__file__).parents[2] / "examples" / "portfolio.toml"
    loaded = load_portfolio_config(example)
    assert loaded.cluster.address == "local"
    assert [f.name for f in loaded.feeders] == ["lv-residential", "village"]
    assert loaded.ocpp is not None
    assert loaded.feeder_of() == {"LV-1": "lv-residential", "DORF-1": "village"}
    assert {
        s: [e.evse_id for e in evses.values()] for s, evses in loaded.ocpp.stations.items()
    } == {
        "CS-LV-1": ["LV-1"],
        "CS-DORF-1": ["DORF-1"],
    }


def _with_stations(ocpp: bool, second_station: str, second_evse: int = 1) -> dict[str, object]:
    def feeder(name: str, evse_id: str, station: str, number: int) -> dict[str, object]:
        charger = {"evse_id": evse_id, "bus": "Bus R11", "max_charge_power_w": 11000}
        return {
            "name": name,
            "network": "cigre-lv",
            "charger": [{**charger, "station_id": station, "ocpp_evse": number}],
        }

    data: dict[str, object] = {
        "cluster": {},
        "feeder": [feeder("a", "A1", "CS-1", 1), feeder("b", "B1", second_station, second_evse)],
    }
    return {**data, "ocpp": {"listen": "127.0.0.1:9100"}} if ocpp else data


def test_a_portfolio_ocpp_table_is_read_by_the_site_reader_over_every_feeder() -> None:
    config = parse_portfolio_config(_with_stations(True, "CS-2"))
    assert config.ocpp is not None and config.ocpp.port == 9100
    assert sorted(config.ocpp.stations) == ["CS-1", "CS-2"]


@pytest.mark.parametrize(
    ("ocpp", "station", "evse", "problem"),
    [
        (True, "CS-1", 2, "ocpp: station CS-1 has EVSEs on feeders a, b"),
        (True, "CS-1", 1, "ocpp: station CS-1 evse 1 is given twice"),
        (False, "CS-2", 1, "feeder[0].charger: station_id needs an [ocpp] table"),
    ],
)
def test_stations_that_cannot_be_served_are_named(
    ocpp: bool, station: str, evse: int, problem: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_portfolio_config(_with_stations(ocpp, station, evse))
    assert problem in error.value.problems


def test_a_portfolio_secc_file_is_found_beside_the_portfolio_file(tmp_path: Path) -> None:
    (tmp_path / "portfolio.toml").write_text(
        PORTFOLIO + '[secc]\nconfig = "charger.toml"\nauthorize = true\n', encoding="utf-8"
    )
    (tmp_path / "charger.toml").write_text('[[evse]]\nevse_id = "N1"\n', encoding="utf-8")
    config = load_portfolio_config(tmp_path / "portfolio.toml")
    assert config.service.secc_config == tmp_path / "charger.toml"
    assert config.service.secc_authorize is True


def test_a_portfolio_secc_that_speaks_ocpp_itself_is_refused(tmp_path: Path) -> None:
    (tmp_path / "portfolio.toml").write_text(
        PORTFOLIO + '[secc]\nconfig = "charger.toml"\n', encoding="utf-8"
    )
    (tmp_path / "charger.toml").write_text(
        '[ocpp]\ncsms_url = "ws://x/ocpp"\n[[evse]]\nevse_id = "N1"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"secc.config: .* has an \[ocpp\] table"):
        load_portfolio_config(tmp_path / "portfolio.toml")
