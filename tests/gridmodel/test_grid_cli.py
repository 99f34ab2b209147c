"""`v2g grid ...`: the verdict as the README's command table shapes it, exit 2 on bad input."""

import json
import subprocess
import sys

import pytest


def v2g(*argv):
    return subprocess.run(
        [sys.executable, "-m", "v2g", "grid", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_prints_the_verdict_as_json_and_fails_on_violations(tmp_path):
    injections = tmp_path / "injections.json"
    injections.write_text(
        json.dumps([{"bus": "Bus R18", "power_w": 60000}, {"bus": 12, "power_w": -5000}]),
        encoding="utf-8",
    )
    result = v2g("check", "--network", "cigre-lv", "--injections", str(injections), "--json")
    assert result.returncode == 1, result.stderr  # exit 1 = a failed run
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False and verdict["converged"] is True
    assert verdict["base_case"]["ok"] is True
    assert verdict["violations"] == [
        {
            "element": "bus 19 'Bus R18'",
            "metric": "vm_pu_min",
            "value": verdict["violations"][0]["value"],
            "limit": 0.9,
        }
    ]
    for key in ("max_line_loading_percent", "max_trafo_loading_percent", "min_vm_pu", "max_vm_pu"):
        assert isinstance(verdict[key], float)


def test_headroom_lists_every_connection_point_with_its_binding_limit():
    result = v2g("headroom", "--network", "cigre-lv", "--json")
    assert result.returncode == 0, result.stderr
    points = json.loads(result.stdout)["connection_points"]
    assert len(points) == 15
    r18 = next(p for p in points if p["bus_name"] == "Bus R18")
    assert 0 < r18["charge_w"] < 60_000 and "vm_pu_min" in r18["charge_binding"]


def test_hosting_capacity_covers_every_bus_but_the_slack():
    result = v2g("hosting-capacity", "--network", "cigre-lv", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["buses"]) == 43


def test_bad_input_exits_2_with_one_line(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    nan = tmp_path / "nan.json"
    nan.write_text('[{"bus": "Bus R11", "power_w": NaN}]', encoding="utf-8")
    unknown = tmp_path / "unknown.json"
    unknown.write_text('[{"bus": "Bus Z9", "power_w": 1000}]', encoding="utf-8")
    cases = [
        (("check", "--network", str(broken)), "cannot read pandapower JSON"),
        (("check", "--network", "atlantis"), "neither a built-in network"),
        (("check", "--network", "cigre-lv", "--injections", str(nan)), "finite number"),
        (("check", "--network", "cigre-lv", "--injections", str(unknown)), "no bus named"),
    ]
    for argv, message in cases:
        result = v2g(*argv)
        assert result.returncode == 2, argv
        assert message in result.stderr and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_check_that_passes_exits_0():
    result = v2g("check", "--network", "cigre-lv", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_a_base_case_that_already_breaks_a_limit_is_shown_and_fails():
    """CIGRE MV at its reference load loads its transformer to 101 % (decision 11)."""
    result = v2g("check", "--network", "cigre-mv")
    assert result.returncode == 1
    first = result.stdout.splitlines()[0]
    assert first == (
        "cigre-mv: VIOLATIONS in the base case (the network's own loads, no injections)"
    )
    assert "trafo 0 'Trafo 0-1': loading_percent" in result.stdout


def test_injections_on_a_broken_base_case_show_the_base_case_beside_them(tmp_path):
    injections = tmp_path / "injections.json"
    injections.write_text(json.dumps([{"bus": "Bus 12", "power_w": 1000}]), encoding="utf-8")
    result = v2g("check", "--network", "cigre-mv", "--injections", str(injections), "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["base_case"]["ok"] is False
    assert "trafo 0 'Trafo 0-1'" in {v["element"] for v in document["base_case"]["violations"]}
    text = v2g("check", "--network", "cigre-mv", "--injections", str(injections)).stdout
    assert "already fails:" in text


def test_a_flow_that_does_not_converge_is_null_in_valid_json_and_fails(tmp_path):
    injections = tmp_path / "injections.json"
    injections.write_text(json.dumps([{"bus": "Bus R18", "power_w": 5e6}]), encoding="utf-8")
    result = v2g("check", "--network", "cigre-lv", "--injections", str(injections), "--json")
    assert result.returncode == 1
    assert "NaN" not in result.stdout
    document = json.loads(result.stdout, parse_constant=pytest.fail)
    assert document["converged"] is False and document["ok"] is False
    for key in ("max_line_loading_percent", "max_trafo_loading_percent", "min_vm_pu", "max_vm_pu"):
        assert document[key] is None
    text = v2g("check", "--network", "cigre-lv", "--injections", str(injections)).stdout
    assert "NOT CONVERGED" in text and "did not converge" in text


def test_headroom_on_a_broken_base_case_says_why_every_point_is_zero():
    result = v2g("headroom", "--network", "cigre-mv", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["base_case"]["ok"] is False
    assert all(p["charge_w"] == 0.0 for p in document["connection_points"])


def test_every_grid_command_takes_a_transformer_only_depot_file(tmp_path):
    import pandapower as pp

    from tests.feeder.networks import depot

    path = tmp_path / "depot.json"
    pp.to_json(depot(), str(path))
    for command in ("check", "headroom", "hosting-capacity"):
        result = v2g(command, "--network", str(path), "--json")
        assert result.returncode == 0, (command, result.stderr)
        json.loads(result.stdout)
    room = json.loads(v2g("headroom", "--network", str(path), "--json").stdout)
    [point] = room["connection_points"]
    assert point["charge_w"] > 0 and "depot trafo" in point["charge_binding"]
