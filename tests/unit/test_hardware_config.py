"""The charger file picks the power module per [[evse]]."""

from __future__ import annotations

import pytest

from v2g.hardware.modbus import ModbusPowerModule
from v2g.hardware.simulated import SimulatedPowerModule
from v2g.secc.config import ConfigError, parse_secc_config
from v2g.secc.power_stage import PowerStage

BASE = {"evse_id": "E1", "interface": "veth0", "current": "dc", "max_charge_power_w": 11000}


def test_the_simulated_module_is_the_default_and_modbus_is_picked_per_evse():
    config = parse_secc_config(
        {
            "evse": [
                BASE,
                BASE
                | {
                    "evse_id": "E2",
                    "power_module": "modbus",
                    "modbus_host": "10.0.0.7",
                    "modbus_port": 5020,
                    "modbus_unit": 4,
                },
            ]
        }
    )
    first, second = (PowerStage.for_evse(e, lambda: 0.0) for e in config.evses)
    assert isinstance(first.module, SimulatedPowerModule)
    assert isinstance(second.module, ModbusPowerModule)
    assert str(second.module.endpoint) == "Modbus TCP 10.0.0.7:5020 unit 4"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"power_module": "can"}, "power_module must be 'simulated' or 'modbus'"),
        ({"power_module": "modbus"}, "needs modbus_host"),
        ({"power_module": "modbus", "modbus_host": "h", "modbus_port": 0}, "modbus_port"),
        ({"power_module": "modbus", "modbus_host": "h", "modbus_unit": 300}, "modbus_unit"),
        ({"power_module": "modbus", "modbus_host": "h", "current": "ac"}, "must be 'dc'"),
    ],
)
def test_a_bad_module_choice_is_refused_with_the_reason(keys, problem):
    with pytest.raises(ConfigError) as refused:
        parse_secc_config({"evse": [BASE | keys]})
    assert any(problem in p for p in refused.value.problems), refused.value.problems
