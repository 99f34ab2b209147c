"""The `v2g` command: exit 2 with a one-line reason on bad usage or bad input."""

import subprocess
import sys


def v2g(*argv):
    return subprocess.run(
        [sys.executable, "-m", "v2g", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unknown_protocol_is_bad_usage():
    result = v2g("loopback", "--protocol", "iso99")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_broken_charger_config_lists_every_problem(tmp_path):
    config = tmp_path / "charger.toml"
    config.write_text('codec = "morse"\n[[evse]]\nevse_id = "E1"\n', encoding="utf-8")
    result = v2g("secc", "--config", str(config))
    assert result.returncode == 2
    assert "codec must be" in result.stderr and "missing key 'interface'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
