"""The site file's OCPP part: ``[ocpp]`` and each charger's ``station_id`` / ``ocpp_evse``."""

from __future__ import annotations

import sqlite3

import pytest

from v2g.config import ConfigError
from v2g.service.config import parse_site_config


def charger(evse_id: str, **ocpp: object) -> dict[str, object]:
    return {"evse_id": evse_id, "bus": "Bus R11", "max_charge_power_w": 11000, **ocpp}


def test_chargers_are_grouped_by_station_with_their_evse_ids() -> None:
    config = parse_site_config(
        {
            "ocpp": {"listen": "0.0.0.0:9100", "security_profile": 1, "deadband_w": 250},
            "charger": [
                charger("E1", station_id="CS-1", ocpp_evse=1),
                charger("E2", station_id="CS-1", ocpp_evse=2),
                charger("E3"),
            ],
        }
    )
    assert config.ocpp is not None
    assert (config.ocpp.host, config.ocpp.port) == ("0.0.0.0", 9100)
    assert config.ocpp.policy.deadband_w == 250
    assert {n: e.evse_id for n, e in config.ocpp.stations["CS-1"].items()} == {1: "E1", 2: "E2"}
    assert config.ocpp.station_of("E2") == "CS-1"
    assert config.ocpp.station_of("E3") is None


def test_a_site_without_ocpp_has_no_csms() -> None:
    assert parse_site_config({"charger": [charger("E1")]}).ocpp is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"charger": [charger("E1", station_id="CS-1")]}, "needs an [ocpp] table"),
        ({"ocpp": {"listen": "nowhere"}}, "ocpp.listen"),
        ({"ocpp": {"listen": "127.0.0.1:70000"}}, "ocpp.listen"),
        ({"ocpp": {"security_profile": 4}}, "ocpp.security_profile"),
        ({"ocpp": {"security_profile": 3}}, "ocpp.client_ca: security profile 3 needs it"),
        ({"ocpp": {"tls_cert": "c.pem"}}, "given with security_profile 1"),
        ({"ocpp": {"id_tokens": "RFID-1"}}, "ocpp.id_tokens"),
        ({"ocpp": {"deadband_w": -5}}, "ocpp.deadband_w"),
        ({"ocpp": {"renew_before_s": "soon"}}, "ocpp.renew_before_s"),
        ({"ocpp": {"tls": True}}, "unknown key 'tls'"),
        ({"ocpp": {}, "charger": [charger("E1", station_id="", ocpp_evse=1)]}, "station_id"),
        ({"ocpp": {}, "charger": [charger("E1", station_id="CS", ocpp_evse=0)]}, "ocpp_evse"),
        (
            {
                "ocpp": {},
                "charger": [
                    charger("E1", station_id="CS", ocpp_evse=1),
                    charger("E2", station_id="CS", ocpp_evse=1),
                ],
            },
            "given twice",
        ),
    ],
)
def test_a_bad_ocpp_setting_is_named_with_every_other_problem(data: dict, problem: str) -> None:
    data = {**data, "api": {"port": "eighty"}}
    with pytest.raises(ConfigError) as raised:
        parse_site_config(data)
    assert any(problem in p for p in raised.value.problems), raised.value.problems
    assert any("api.port" in p for p in raised.value.problems)


def test_station_create_refuses_an_id_ocpp_cannot_carry_and_registers_nothing(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    from v2g.cli import main

    config = tmp_path / "site.toml"
    config.write_text(f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path}/v2g.db"\n')
    assert main(["station", "create", "--id", "CS/1", "--config", str(config)]) == 2
    assert "station id" in capsys.readouterr().err
    assert main(["station", "create", "--id", "CS-1", "--config", str(config)]) == 0
    password = capsys.readouterr().out.strip()
    assert 16 <= len(password) <= 40
    with sqlite3.connect(tmp_path / "v2g.db") as db:
        assert db.execute("SELECT station_id FROM stations").fetchall() == [("CS-1",)]
