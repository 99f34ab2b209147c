"""`v2g grid ...`: the verdict as the README's command table shapes it, exit 2 on bad input."""

import json
import subprocess
import sys


def v2g(*argv):
    return subprocess.run(
        [sys.executable, "-m", "v2g", "grid", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_prints_the_verdict_as_json(tmp_path):
    injections = tmp_path / "injections.json"
    injections.write_text(
        json.dumps([{"bus": "Bus R18", "power_w": 60000}, {"bus": 12, "power_w": -5000}]),
        encoding="utf-8",
    )
    result = v2g("check", "--network", "cigre-lv", "--injections", str(injections), "--json")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False
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
