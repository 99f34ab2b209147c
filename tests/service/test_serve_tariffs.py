"""Tariffs as an operator sets them up: ``[[tariff]]`` in the site file puts them in
force at the first start; a change through the API survives a restart (the file only
seeds an empty store)."""

from __future__ import annotations

import pytest

from tests.service.processes import Service, free_port, v2g
from tests.service.processes import api as call
from tests.service.test_serve import SITE
from v2g.config import ConfigError
from v2g.service.config import load_site_config

TARIFFS = """
[[charger]]
evse_id = "E2"
bus = "Bus R11"
max_charge_power_w = 11000
tariff = "night"
[[tariff]]
id = "day"
currency = "EUR"
energy_price_per_kwh = 0.35
v2g_remuneration_per_kwh = 0.2
[[tariff]]
id = "night"
currency = "EUR"
energy_price_per_kwh = "0.30"
[[tariff.bands]]
price_per_kwh = 0.18
start = "22:00"
end = "06:00"
"""


def test_tariffs_from_the_site_file_are_in_force_and_an_api_change_survives_a_restart(tmp_path):
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(SITE.format(data=tmp_path / "data", api_port=port) + TARIFFS)
    made = v2g("token", "create", "--role", "operator", "--config", str(config))
    assert made.returncode == 0, made.stderr
    operator = made.stdout.strip()
    log = tmp_path / "serve.log"
    service = Service(config, port, log)
    try:
        status, body = call(port, "GET", "/api/v1/tariffs", operator)
        assert status == 200
        assert [t["id"] for t in body["tariffs"]] == ["day", "night"]
        assert body["tariffs"][1]["bands"][0]["price_per_kwh"] == "0.18"
        changed = {"tariffs": [{"id": "day", "currency": "EUR", "energy_price_per_kwh": "0.40"}]}
        assert call(port, "PUT", "/api/v1/tariffs", operator, changed)[0] == 200
    finally:
        service.stop()
    service = Service(config, port, log)
    try:
        _, body = call(port, "GET", "/api/v1/tariffs", operator)
        assert [(t["id"], t["energy_price_per_kwh"]) for t in body["tariffs"]] == [("day", "0.40")]
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            '[[tariff]]\nid = "t"\ncurrency = "EUR"\nenergy_price_per_kwh = 50\n',
            "energy_price_per_kwh",
        ),
        ('[[tariff]]\nid = "t"\ncurrency = "EUR"\n', "tariff[0].energy_price_per_kwh: missing"),
        ('[[tariff]]\nid = "t"\ncurrency = "EUR"\nenergy_price_per_kwh = 0.3\nfee = 1\n', "fee"),
        (
            '[[charger]]\nevse_id = "E9"\nbus = 1\nmax_charge_power_w = 1\ntariff = "nope"\n',
            "charger[0].tariff: no [[tariff]] with id 'nope'",
        ),
        ("[billing]\nparty_id = 5\n", "billing.party_id"),
    ],
)
def test_a_bad_tariff_in_the_site_file_is_named(tmp_path, table, problem):
    site = tmp_path / "site.toml"
    site.write_text(table)
    with pytest.raises(ConfigError) as raised:
        load_site_config(site)
    assert problem in str(raised.value)
