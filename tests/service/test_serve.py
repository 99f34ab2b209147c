"""``v2g serve`` and ``v2g token create`` as an operator runs them: a token made on the
command line opens the API of a running service, and a restart keeps what was sent."""

from __future__ import annotations

from tests.service.processes import CHARGER_E1, SITE_HEAD, Service, free_port, v2g
from tests.service.processes import api as call

SITE = SITE_HEAD + CHARGER_E1

EVENT = {
    "id": "evt-1",
    "modification_number": 1,
    "start": "2030-07-01T18:00:00Z",
    "end": "2030-07-01T20:00:00Z",
    "kind": "export_w",
    "value": 5000,
}


def test_a_token_from_the_command_line_opens_the_api_and_a_restart_keeps_the_dr_event(tmp_path):
    port = free_port()
    config = tmp_path / "site.toml"
    config.write_text(SITE.format(data=tmp_path / "data", api_port=port))
    created = {
        role: v2g("token", "create", "--role", role, "--config", str(config))
        for role in ("utility", "viewer")
    }
    for done in created.values():
        assert done.returncode == 0, done.stderr
    utility, viewer = (created[r].stdout.strip() for r in ("utility", "viewer"))

    log = tmp_path / "serve.log"
    service = Service(config, port, log)
    try:
        assert call(port, "POST", "/api/v1/dr-events", utility, EVENT)[0] == 201
        status, plan = call(port, "GET", "/api/v1/plan", viewer)
        assert status == 200 and plan["grid"]["ok"] is True
        assert call(port, "GET", "/api/v1/plan", utility)[0] == 403
    finally:
        service.stop()

    service = Service(config, port, log)
    try:
        status, events = call(port, "GET", "/api/v1/dr-events", utility)
        assert status == 200
        assert [(e["id"], e["modification_number"]) for e in events["events"]] == [("evt-1", 1)]
    finally:
        service.stop()
    logged = log.read_text()
    assert f"listening on 127.0.0.1:{port}" in logged  # where it is, and how to open it
    assert f"dashboard: http://127.0.0.1:{port}/#token=TOKEN" in logged
    assert "v2g token create --role viewer --config" in logged
    assert "GET /api/v1/plan" in logged  # the access log is on ...
    assert utility not in logged and viewer not in logged  # ... and never shows a token


def test_a_bad_site_file_exits_2_with_every_problem_on_one_line(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('[api]\nport = "eighty"\n[grid]\nvm_pu_min = "low"\n')
    done = v2g("serve", "--config", str(config))
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert "api.port" in line and "grid.vm_pu_min" in line
