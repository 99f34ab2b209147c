"""The charger TOML's SLAC keys per [[evse]] (docs/configuration.md)."""

from __future__ import annotations

import pytest

from v2g.secc.config import ConfigError, parse_secc_config

EVSE = {"evse_id": "DE*V2G*E1", "interface": "eth1", "current": "ac", "max_charge_power_w": 11e3}


def test_slac_is_off_by_default_and_uses_the_evse_interface():
    (evse,) = parse_secc_config({"evse": [EVSE]}).evses
    assert evse.slac is False
    assert (evse.slac_interface, evse.slac_modem_mac) == ("", "00:b0:52:00:00:01")


def test_slac_keys_are_read():
    raw = {**EVSE, "slac": True, "slac_interface": "plc0", "slac_modem_mac": "02:00:00:00:00:aa"}
    (evse,) = parse_secc_config({"evse": [raw]}).evses
    assert (evse.slac, evse.slac_interface, evse.slac_modem_mac) == (
        True,
        "plc0",
        "02:00:00:00:00:aa",
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("slac_modem_mac", "00:b0:52", "slac_modem_mac must look like"),
        ("slac_modem_mac", "zz:b0:52:00:00:01", "slac_modem_mac must look like"),
        ("slac", "yes", "slac must be true or false"),
    ],
)
def test_bad_slac_keys_are_reported_with_the_evse(key, value, problem):
    with pytest.raises(ConfigError, match=problem) as error:
        parse_secc_config({"evse": [{**EVSE, key: value}]})
    assert "evse DE*V2G*E1" in str(error.value)
