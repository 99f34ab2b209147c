"""The site file: validated once, every problem reported together."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridmodel import load_network
from v2g.config import ConfigError
from v2g.fleet import Charger
from v2g.service.assembly import site_of
from v2g.service.config import load_site_config, parse_site_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "site.toml"


def test_the_annotated_example_is_a_valid_site():
    config = load_site_config(EXAMPLE)
    assert [c.evse_id for c in config.chargers] == ["DE*V2G*E0001", "DE*V2G*E0002"]
    site = site_of(config, load_network(config.network))
    assert site.policy_for("WVWZZZE1ZMP000001", "DE*V2G*E0001").v2g_allowed
    assert (site.default_needs.energy_wh, site.default_needs.dwell_s) == (10_000, 28_800)


def test_no_file_means_the_embedded_defaults():
    config = load_site_config(None)
    assert config.store_url == "sqlite+aiosqlite:///v2g-data/v2g.db"
    assert (config.network, config.host, config.port) == ("cigre-lv", "127.0.0.1", 8080)
    assert config.foresee_arrivals  # turned off only by the file


def test_every_problem_in_a_site_file_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        parse_site_config(
            {
                "stroe": {},
                "api": {"port": 80_000, "colour": "red"},
                "grid": {"vm_pu_min": 1.2, "vm_pu_max": 1.1},
                "control": {"interval_s": -1, "horizon_slots": 2.5, "foresee_arrivals": 1},
                "charger": [
                    {"evse_id": "E1", "bus": 1, "max_charge_power_w": "11 kW"},
                    {"evse_id": "E1", "bus": True},
                ],
                "vehicle": [{"ev_id": "x", "v2g_allowed": "yes", "reserve_soc_percent": 130}],
                "needs": {"default_energy_wh": -5, "default_dwell_s": 10, "soc": 50},
            }
        )
    problems = raised.value.problems
    for expected in (
        "unknown section 'stroe'",
        "api.port",
        "[api]: unknown key 'colour'",
        "grid: vm_pu_min",
        "control.interval_s",
        "control.horizon_slots",
        "control.foresee_arrivals",
        "charger[0].max_charge_power_w: must be a number",
        "charger[1].bus",
        "charger[1].max_charge_power_w: missing",
        "evse_id 'E1' appears twice",
        "vehicle[0].v2g_allowed",
        "vehicle[0].reserve_soc_percent",
        "needs.default_energy_wh: must be a finite number >= 0",
        "needs.default_dwell_s: must be a finite number >= 60",
        "[needs]: unknown key 'soc'",
    ):
        assert any(expected in p for p in problems), (expected, problems)


def test_unknown_buses_are_named_all_together():
    config = parse_site_config(
        {
            "charger": [
                {"evse_id": "E1", "bus": "Bus R99", "max_charge_power_w": 11000},
                {"evse_id": "E2", "bus": "Bus R11", "max_charge_power_w": 11000},
                {"evse_id": "E3", "bus": 4000, "max_charge_power_w": 11000},
            ]
        }
    )
    with pytest.raises(ConfigError) as raised:
        site_of(config, load_network("cigre-lv"))
    assert [p.split(":")[0] for p in raised.value.problems] == ["charger[0].bus", "charger[2].bus"]


def test_a_site_charger_is_the_fleet_charger_type_with_its_bus_resolved_at_start_up():
    config = parse_site_config(
        {
            "charger": [
                {
                    "evse_id": "E1",
                    "bus": "Bus R11",
                    "max_charge_power_w": 11_000,
                    "max_discharge_power_w": 7_000,
                }
            ]
        }
    )
    network = load_network("cigre-lv")
    site = site_of(config, network)
    charger = site.chargers["E1"]
    assert charger == Charger("E1", network.resolve_bus("Bus R11"), 11_000.0, 7_000.0)
    assert (charger.max_charge_power_w, charger.max_discharge_power_w) == (11_000, 7_000)


def test_an_unknown_bus_is_the_one_config_error_and_names_the_charger():
    config = parse_site_config(
        {"charger": [{"evse_id": "E1", "bus": "Bus Nowhere", "max_charge_power_w": 1}]}
    )
    with pytest.raises(ConfigError) as raised:
        site_of(config, load_network("cigre-lv"))
    assert raised.value.problems[0].startswith("charger[0].bus")
    assert config.chargers[0].bus == "Bus Nowhere"  # the configuration is unchanged
