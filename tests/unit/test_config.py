"""Charger configuration: every problem reported at once, examples stay valid."""

from pathlib import Path

import pytest

from v2g.config import ConfigError
from v2g.secc.config import load_secc_config, parse_secc_config

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_the_annotated_example_loads():
    config = load_secc_config(EXAMPLES / "charger.toml")
    assert [e.evse_id for e in config.evses] == ["DE*V2G*E0001", "DE*V2G*E0002"]
    dc, ac = config.evses
    assert dc.is_bidirectional and not ac.is_bidirectional
    assert dc.rated_bounds(bidirectional_session=False).lower.power_w == 0.0


def test_every_problem_is_reported_together():
    with pytest.raises(ConfigError) as caught:
        parse_secc_config(
            {
                "codec": "fortran",
                "colour": "blue",
                "evse": [
                    {
                        "evse_id": "E1",
                        "interface": "eth1",
                        "current": "dc",
                        "max_charge_power_w": -5,
                        "phases": 2,
                    },
                    {"evse_id": "E2", "interface": "eth2"},
                    {
                        "evse_id": "E3",
                        "interface": "eth3",
                        "current": "ac",
                        "max_charge_power_w": 11000,
                        "max_charge_power_kw": 11,
                    },
                ],
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "unknown key 'colour'",
        "codec must be",
        "max_charge_power_w must be",
        "phases must be 1 or 3",
        "evse[1]: missing key 'current'",
        "evse[2]: unknown key 'max_charge_power_kw'",
    ):
        assert expected in problems


def test_nan_and_duplicate_ids_are_rejected():
    evse = {
        "evse_id": "E1",
        "interface": "eth1",
        "current": "dc",
        "max_charge_power_w": float("nan"),
    }
    with pytest.raises(ConfigError, match="finite"):
        parse_secc_config({"evse": [evse]})
    evse["max_charge_power_w"] = 7000
    with pytest.raises(ConfigError, match="appears twice"):
        parse_secc_config({"evse": [evse, dict(evse)]})


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "charger.toml"
    path.write_text("[[evse]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_secc_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_secc_config(tmp_path / "missing.toml")


def _evse(**overrides):
    return {
        "evse_id": "E1",
        "interface": "eth1",
        "current": "dc",
        "max_charge_power_w": 50000,
        **overrides,
    }


@pytest.mark.parametrize(
    ("current", "phases", "modes"),
    [
        ("ac", 3, ("AC_three_phase_core", "AC_single_phase_core")),
        ("ac", 1, ("AC_single_phase_core",)),
        ("dc", 3, ("DC_extended", "DC_core", "DC_combo_core", "DC_unique")),
    ],
)
def test_energy_transfer_modes_default_from_current_and_phases(current, phases, modes):
    config = parse_secc_config({"evse": [_evse(current=current, phases=phases)]})
    assert config.evses[0].energy_transfer_modes == modes


def test_energy_transfer_modes_are_taken_as_configured_in_their_order():
    config = parse_secc_config({"evse": [_evse(energy_transfer_modes=["DC_core", "DC_extended"])]})
    assert config.evses[0].energy_transfer_modes == ("DC_core", "DC_extended")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"energy_transfer_modes": ["DC_turbo"]}, "unknown ['DC_turbo']"),
        ({"energy_transfer_modes": ["AC_three_phase_core"]}, "cannot be offered by a DC EVSE"),
        (
            {"current": "ac", "energy_transfer_modes": ["DC_core"]},
            "cannot be offered by a AC EVSE",
        ),
        (
            {"current": "ac", "phases": 1, "energy_transfer_modes": ["AC_three_phase_core"]},
            "AC_three_phase_core needs phases = 3",
        ),
        ({"energy_transfer_modes": ["DC_core", "DC_core"]}, "lists a mode twice"),
        ({"energy_transfer_modes": ["DC_combo_core"]}, "ISO 15118-20 has a DC connector"),
        ({"energy_transfer_modes": "DC_core"}, "energy_transfer_modes must be a list"),
    ],
)
def test_bad_energy_transfer_modes_get_a_clear_error_and_the_input_is_untouched(
    overrides, message
):
    data = {"evse": [_evse(**overrides)]}
    before = repr(data)
    with pytest.raises(ConfigError) as caught:
        parse_secc_config(data)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems
    assert repr(data) == before


def test_a_dc_combo_only_evse_is_fine_without_iso20():
    evse = _evse(energy_transfer_modes=["DC_combo_core"], protocols=["din", "iso2"])
    assert parse_secc_config({"evse": [evse]}).evses[0].energy_transfer_modes == ("DC_combo_core",)


def test_a_loopback_ev_may_ask_only_a_mode_of_its_protocol():
    from v2g.secc.loopback.spec import LoopbackSpec

    assert LoopbackSpec("iso2-ac", energy_transfer_mode="AC_single_phase_core")
    for protocol, mode in (("iso2-ac", "DC_core"), ("iso20-dc", "DC_core"), ("din-dc", "AC_x")):
        with pytest.raises(ValueError, match="cannot ask for energy transfer mode"):
            LoopbackSpec(protocol, energy_transfer_mode=mode)


DC_EVSE = {"evse_id": "E1", "interface": "eth1", "current": "dc", "max_charge_power_w": 7000}


def test_the_sequence_timeout_is_the_standards_60_s_unless_configured_shorter():
    assert parse_secc_config({"evse": [DC_EVSE]}).sequence_timeout_s == 60.0
    config = parse_secc_config({"evse": [DC_EVSE], "sequence_timeout_s": 3})
    assert config.sequence_timeout_s == 3.0


@pytest.mark.parametrize("value", [0, -1, 61, float("nan"), float("inf"), "60", True])
def test_a_sequence_timeout_outside_the_standards_60_s_is_refused(value):
    with pytest.raises(ConfigError, match=r"sequence_timeout_s must be .* \(0, 60\]"):
        parse_secc_config({"evse": [DC_EVSE], "sequence_timeout_s": value})
