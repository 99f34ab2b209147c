"""The README's promise for every command: bad usage or bad input exits 2 with a
one-line reason on stderr and nothing on stdout, before anything runs; a run that
starts and fails exits 1; ``--version`` answers.

The sweep runs each command with a bad value for each of its options, in process
(argparse and the commands' own checks run before any I/O they would start)."""

from __future__ import annotations

import json
import socket

import pytest

from v2g.cli import main

from .test_cli import v2g


def scenario(tmp_path):
    path = tmp_path / "scenario.json"
    path.write_text(
        json.dumps(
            {
                "start": "2026-07-01T16:00:00Z",
                "end": "2026-07-01T17:00:00Z",
                "step_s": 900,
                "feeder": {"network": "cigre-lv"},
                "vehicles": [],
            }
        )
    )
    return path


def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def no_such_dir(tmp_path):
    return tmp_path / "missing" / "deeper"


# (argv, a word the one-line reason must contain); {tmp} is the test's folder,
# {file} an existing plain file, {scenario} a valid scenario.
BAD = [
    (["--log-level", "LOUD"], "LOUD"),
    (["--log-level", "LOUD", "grid", "check", "--network", "cigre-lv"], "LOUD"),
    (["nosuchcommand"], "invalid choice"),
    (["loopback"], "--protocol"),
    (["loopback", "--protocol", "iso99"], "iso99"),
    (["loopback", "--protocol", "iso2-dc", "--control", "sometimes"], "sometimes"),
    (["loopback", "--protocol", "iso2-dc", "--setpoint-w", "nan"], "finite"),
    (["loopback", "--protocol", "iso2-dc", "--setpoint-w", "inf"], "finite"),
    (["loopback", "--protocol", "iso2-dc", "--setpoint-w=-infinity"], "finite"),
    (["loopback", "--protocol", "iso2-dc", "--setpoint-w", "5kW"], "5kW"),
    (["loopback", "--protocol", "iso2-dc", "--codec", "morse"], "morse"),
    (["loopback", "--protocol", "iso2-dc", "--charge-loops", "-1"], "--charge-loops"),
    (["loopback", "--protocol", "iso2-dc", "--charge-loops", "0"], "--charge-loops"),
    (["loopback", "--protocol", "iso2-dc", "--charge-loops", "1.5"], "--charge-loops"),
    (["loopback", "--protocol", "iso2-dc", "--ev-timeout-scale", "0"], "--ev-timeout-scale"),
    (["loopback", "--protocol", "iso2-dc", "--ev-timeout-scale", "nan"], "--ev-timeout-scale"),
    (["loopback", "--protocol", "iso2-dc", "--cert-install"], "certificate"),
    (["loopback", "--protocol", "iso2-dc", "--pki", "{tmp}/none"], "--pki"),
    (["loopback", "--protocol", "iso2-dc", "--work-dir", "{file}"], "--work-dir"),
    (["grid", "check"], "--network"),
    (["grid", "check", "--network", "atlantis"], "atlantis"),
    (["grid", "check", "--network", "{file}"], "a-file"),
    (["grid", "check", "--network", "cigre-lv", "--injections", "{tmp}/none.json"], "none"),
    (["grid", "check", "--network", "cigre-lv", "--injections", "{file}"], "a-file"),
    (["grid", "headroom", "--network", "atlantis"], "atlantis"),
    (["grid", "hosting-capacity", "--network", "atlantis"], "atlantis"),
    (["simulate", "{tmp}/none.json"], "none.json"),
    (["simulate", "{file}"], "not JSON"),
    (["simulate", "{scenario}", "--out", "{file}"], "not a folder"),
    (["simulate", "{scenario}", "--out", "/proc/x"], "/proc"),
    (["demo", "--fleet", "0"], "--fleet"),
    (["demo", "--fleet", "-3"], "--fleet"),
    (["demo", "--fleet", "many"], "--fleet"),
    (["demo", "--fleet", "5001"], "--fleet"),
    (["demo", "--hours", "0"], "--hours"),
    (["demo", "--hours", "nan"], "--hours"),
    (["demo", "--hours", "1000"], "--hours"),
    (["demo", "--speed", "-1"], "--speed"),
    (["demo", "--speed", "nan"], "--speed"),
    (["demo", "--speed", "inf"], "--speed"),
    (["demo", "--port", "70000"], "--port"),
    (["demo", "--port", "-1"], "--port"),
    (["demo", "--port", "http"], "--port"),
    (["demo", "--feeder", "atlantis", "--out", "{tmp}/d"], "atlantis"),
    (["demo", "--out", "{file}"], "not a folder"),
    (["demo", "--out", "/proc/x"], "/proc"),
    (["serve", "--port", "70000"], "--port"),
    (["serve", "--port", "-1"], "--port"),
    (["serve", "--port", "0"], "--port"),
    (["serve", "--config", "{tmp}/none.toml"], "none.toml"),
    (["serve", "--config", "{file}"], "a-file"),
    (["token"], "required: a command (create)"),
    (["grid"], "required: a command (check, headroom, hosting-capacity)"),
    ([], "required: a command (loopback, grid"),
    (["token", "create"], "--role"),
    (["token", "create", "--role", "admin"], "admin"),
    (["token", "create", "--role", "viewer", "--config", "{tmp}/none.toml"], "none.toml"),
    (["secc"], "--config"),
    (["exi"], "required: a command (decode, encode)"),
    (["secc", "--config", "{tmp}/none.toml"], "none.toml"),
    (["secc", "--config", "{file}"], "a-file"),
    (["exi", "decode", "--ns", "iso2", "zz"], "not hex"),
    (["exi", "decode", "--ns", "klingon", "00"], "klingon"),
    (["exi", "decode", "--ns", "iso2", "00", "--codec", "morse"], "morse"),
    (["exi", "encode", "--ns", "iso2", "{{"], "not JSON"),
    (["pki", "init", "{tmp}/p", "--profile", "iso99"], "iso99"),
    (["pki", "issue", "secc", "--pki", "{tmp}/none", "--evse-id", "DE*V2G*E1"], "none"),
    (["pki", "verify", "{tmp}/none.pem"], "none.pem"),
    (["pki", "verify", "{file}"], "no readable certificate"),
    (["pki", "verify", "{file}", "--role", "king"], "king"),
    (["pki", "init", "{tmp}/p", "--profile", "iso2", "--algorithm", "rot13"], "rot13"),
    (["pki", "issue", "contract", "--pki", "{tmp}/none", "--emaid", "X"], "EMAID"),
]


@pytest.mark.parametrize(("argv", "reason"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_usage_or_input_exits_2_with_one_line_and_an_empty_stdout(
    argv, reason, tmp_path, capsys
):
    names = {
        "tmp": str(tmp_path),
        "file": str(a_file(tmp_path)),
        "scenario": str(scenario(tmp_path)),
    }
    argv = [arg.format(**names) if "{" in arg and arg != "{{" else arg for arg in argv]
    argv = ["{" if arg == "{{" else arg for arg in argv]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert out == ""
    assert len(lines) == 1, err
    assert reason in lines[0], lines[0]
    assert "Traceback" not in err


def test_a_bad_out_folder_leaves_nothing_behind(tmp_path, capsys):
    path = scenario(tmp_path)
    blocked = a_file(tmp_path)
    assert main(["simulate", str(path), "--out", str(blocked / "report")]) == 2
    assert blocked.read_text() == "not a folder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "scenario.json"]


def test_version_names_the_package():
    done = v2g("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("v2g ") and done.stdout.strip() != "v2g"


def missing_interface() -> str:
    names = {name for _, name in socket.if_nameindex()}
    return next(f"nosuch{i}" for i in range(100) if f"nosuch{i}" not in names)


def test_a_charger_on_a_missing_interface_exits_2_and_names_it(tmp_path):
    name = missing_interface()
    config = charger_on(tmp_path, name)
    done = v2g("secc", "--config", str(config))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def charger_on(tmp_path, interface: str):
    config = tmp_path / "charger.toml"
    config.write_text(
        f'[[evse]]\nevse_id = "DE*V2G*E0001"\ninterface = "{interface}"\ncurrent = "dc"\n'
        "max_charge_power_w = 11000\nmax_discharge_power_w = 11000\nmax_current_a = 32\n"
        "max_voltage_v = 500\nmin_voltage_v = 150\nfallback_power_w = 7400\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("ending", ["returns", "raises"])
def test_a_secc_that_stops_unasked_is_a_failed_run(tmp_path, capsys, monkeypatch, ending):
    from v2g.secc.station import Station

    async def run(self):
        if ending == "raises":
            raise OSError(19, "No such device")

    monkeypatch.setattr(Station, "run", run)
    assert main(["secc", "--config", str(charger_on(tmp_path, "lo"))]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("v2g secc: the SECC")
